"""Payment services (writes), one module per idea:

- intents.py: payment_intent_create, payment_intent_transition (the only writer of an intent's
  status, under its row lock), crediting through billing, payment_reversal_record;
- push.py: payment_intent_push (run by the push task), payment_intent_abandon;
- callbacks.py: the callback inbox: callback_receive (store raw, dedupe, process), the
  worker/sweep path (callback_delivery_process, callback_deliveries_sweep);
- verdicts.py: what a callback's verdict does to its intent (the doubt rule);
- paybill.py: paybill (C2B) money, one credit per receipt whatever the path;
- suspense.py: unmatched money: candidates, allocation, refund;
- reconcile.py: status queries on a back-off schedule, expiry;
- statements.py: operator statement import;
- cash.py: cash taken by agents; receipts.py: the receipt SMS; rules.py: operator limits.
"""
