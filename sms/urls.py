"""Public webhooks of the SMS gateways (no authentication but Twilio's signature)."""

from django.urls import path

from sms import views

app_name = "sms"

urlpatterns = [
    path("africastalking/inbound/", views.at_inbound, name="at-inbound"),
    path("africastalking/delivery/", views.at_delivery, name="at-delivery"),
    path("africastalking/optout/", views.at_optout, name="at-optout"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio-inbound"),
    path("twilio/status/", views.twilio_status, name="twilio-status"),
]
