"""Public URLs the USSD gateways call (mounted at /ussd/ by config/urls.py).

| URL | method | what |
|---|---|---|
| /ussd/africastalking/ | POST | Africa's Talking hop (form: sessionId, serviceCode, phoneNumber, networkCode, text) |
| /ussd/africastalking/events/ | POST | Africa's Talking end-of-session notification |
| /ussd/nalo/ | POST | Nalo Solutions hop (JSON: USERID, MSISDN, USERDATA, MSGTYPE, NETWORK, SESSIONID) |
"""  # noqa: E501

from django.urls import path

from ussd.views import africastalking_session_event, hop_view

app_name = "ussd"

urlpatterns = [
    path("africastalking/", hop_view("africastalking"), name="africastalking"),
    path(
        "africastalking/events/",
        africastalking_session_event,
        name="africastalking-events",
    ),
    path("nalo/", hop_view("nalo"), name="nalo"),
]
