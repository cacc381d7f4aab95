"""HTTP interfaces of payments: operators' public callbacks and the staff API."""
