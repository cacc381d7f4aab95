from django.urls import path

from sms.api.views import ContactListApi, MessageListApi, MessageSendApi, SpendApi

urlpatterns = [
    path("messages/", MessageListApi.as_view(), name="sms-messages"),
    path("messages/send/", MessageSendApi.as_view(), name="sms-message-send"),
    path("spend/", SpendApi.as_view(), name="sms-spend"),
    path("contacts/", ContactListApi.as_view(), name="sms-contacts"),
]
