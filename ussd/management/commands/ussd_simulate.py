"""python manage.py ussd_simulate --phone +254712000001 [--url http://127.0.0.1:8000/ussd/africastalking/]

Walk the USSD menus from a terminal, speaking the Africa's Talking protocol exactly as the
gateway does (one form POST per answer, `text` cumulative): to a running server with --url,
otherwise in this process. Type an answer and Enter; an empty line sends an empty answer;
Ctrl-D hangs up.
"""

import uuid
from urllib.parse import urlencode

import requests
from django.core.management.base import BaseCommand, CommandError
from django.test import RequestFactory

from billing.models import Operator
from ussd.views import hop_view

FORM = "application/x-www-form-urlencoded"


class Command(BaseCommand):
    help = "Walk the USSD menus in the terminal, as Africa's Talking would send them."

    def add_arguments(self, parser):
        parser.add_argument("--phone", required=True, help="The caller, in E.164.")
        parser.add_argument("--url", help="A running server's /ussd/africastalking/ URL.")
        parser.add_argument("--service-code", help="Default: the first operator's USSD code.")
        parser.add_argument("--network", default="", help="Mobile network code, e.g. 63902.")

    def handle(self, *args, phone: str, url: str | None, service_code: str | None, **options):
        if service_code is None:
            first = Operator.objects.exclude(ussd_code="").order_by("id").first()
            service_code = first.ussd_code if first else "*384*12#"
        form = {
            "sessionId": f"SIM_{uuid.uuid4().hex}",
            "serviceCode": service_code,
            "phoneNumber": phone,
            "networkCode": options["network"],
        }
        send = self._http(url) if url else self._in_process()
        answers: list[str] = []
        self.stdout.write(f"Dialling {service_code} from {phone} (Ctrl-D hangs up)\n")
        while True:
            status, body = send(urlencode({**form, "text": "*".join(answers)}))
            if status != 200:
                raise CommandError(f"HTTP {status}: {body}")
            self.stdout.write(body[4:] + "\n")
            if not body.startswith("CON "):
                return
            try:
                answers.append(input("> ").strip())
            except EOFError:
                self.stdout.write("(hung up)\n")
                return

    @staticmethod
    def _http(url: str):
        def send(body: str) -> tuple[int, str]:
            try:
                response = requests.post(url, data=body, headers={"Content-Type": FORM}, timeout=15)
            except requests.RequestException as exc:
                raise CommandError(f"{url}: {exc}") from exc
            return response.status_code, response.text

        return send

    @staticmethod
    def _in_process():
        view, factory = hop_view("africastalking"), RequestFactory()

        def send(body: str) -> tuple[int, str]:
            response = view(factory.post("/ussd/africastalking/", body, content_type=FORM))
            return response.status_code, response.content.decode()

        return send
