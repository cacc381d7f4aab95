"""Public URLs operators call back (mounted at /payments/). Stable: registered at operators.

| URL | method | what |
|---|---|---|
| /payments/mpesa/stk/<token>/ | POST | M-Pesa STK push result |
| /payments/mpesa/c2b/validation/<token>/ | POST | M-Pesa paybill validation (accept/reject) |
| /payments/mpesa/c2b/confirmation/<token>/ | POST | M-Pesa paybill confirmation |
| /payments/mpesa/status/result/<token>/ | POST | M-Pesa Transaction Status result |
| /payments/mpesa/status/timeout/<token>/ | POST | M-Pesa Transaction Status queue timeout |
| /payments/orange/notify/<token>/ | POST | Orange Money notification |
| /payments/airtel/callback/<token>/ | POST | Airtel Money collection callback |
| /payments/mtn/callback/<token>/ | POST, PUT | MTN MoMo request-to-pay callback |
| /payments/sandbox/callback/<token>/ | POST | the offline sandbox operator |
"""

from django.urls import path

from payments.api.callbacks import callback_view

app_name = "payments"

urlpatterns = [
    path("mpesa/stk/<str:token>/", callback_view("mpesa", "stk"), name="mpesa-stk"),
    path(
        "mpesa/c2b/validation/<str:token>/",
        callback_view("mpesa", "c2b_validation"),
        name="mpesa-c2b-validation",
    ),
    path(
        "mpesa/c2b/confirmation/<str:token>/",
        callback_view("mpesa", "c2b_confirmation"),
        name="mpesa-c2b-confirmation",
    ),
    path(
        "mpesa/status/result/<str:token>/",
        callback_view("mpesa", "status_result"),
        name="mpesa-status-result",
    ),
    path(
        "mpesa/status/timeout/<str:token>/",
        callback_view("mpesa", "status_timeout"),
        name="mpesa-status-timeout",
    ),
    path("orange/notify/<str:token>/", callback_view("orange", "notify"), name="orange-notify"),
    path(
        "airtel/callback/<str:token>/",
        callback_view("airtel", "callback"),
        name="airtel-callback",
    ),
    path(
        "mtn/callback/<str:token>/",
        callback_view("mtn", "callback", methods=("POST", "PUT")),
        name="mtn-callback",
    ),
    path(
        "sandbox/callback/<str:token>/",
        callback_view("sandbox", "callback"),
        name="sandbox-callback",
    ),
]
