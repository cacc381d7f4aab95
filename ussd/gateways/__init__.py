"""The USSD gateways we speak, by the name in their public URL (/ussd/<name>/)."""

from ussd.gateways.africastalking import AfricasTalkingGateway
from ussd.gateways.base import Gateway
from ussd.gateways.nalo import NaloGateway

GATEWAYS: dict[str, Gateway] = {
    gateway.name: gateway for gateway in (AfricasTalkingGateway(), NaloGateway())
}


def gateway_get(name: str) -> Gateway:
    return GATEWAYS[name]
