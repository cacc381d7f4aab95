"""POST /api/auth/register, /resend and /activate, driven through DRF's APIClient."""

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import AuditEvent, SmsCode, User
from accounts.services import activation
from accounts.services.activation import activation_start
from sms import tasks
from sms.models import OutboundMessage

pytestmark = pytest.mark.django_db

REGISTER, RESEND, ACTIVATE = "/api/auth/register", "/api/auth/resend", "/api/auth/activate"
PHONE = "+254712345678"
PASSWORD = "correct horse battery staple"
IP = "203.0.113.7"
# 15 s into a minute, so per-IP windows (one minute) have 45 s left.
T0 = datetime(2025, 3, 3, 9, 0, 15, tzinfo=UTC)
CODE_SENT = {"status": "code_sent", "expires_in": 600, "resend_after": 60}


class _InProcess:
    """Stands in for the Celery task: runs it at once, in this process (no broker needed)."""

    def __init__(self, task):
        self.task = task

    def apply_async(self, args, **options):
        self.task(*args)


class Handset:
    """The console gateway's file: what each phone received."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def install(cls, settings, tmp_path, monkeypatch) -> "Handset":
        """Route SMS to a fresh file; the send task runs in-process right after commit."""
        settings.SMS_GATEWAY = "sms.gateways.console.ConsoleGateway"
        settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
        monkeypatch.setattr(tasks, "message_send", _InProcess(tasks.message_send))
        return cls(Path(settings.SMS_CONSOLE_FILE))

    def texts(self, phone: str) -> list[str]:
        if not self.path.exists():
            return []
        prefix = f" to {phone}: "
        lines = self.path.read_text("utf-8").splitlines()
        return [line.split(prefix, 1)[1] for line in lines if prefix in line]

    def code(self, phone: str) -> str:
        return re.search(r"Malipo code: (\d{6})", self.texts(phone)[-1]).group(1)


class Api:
    """APIClient whose requests commit like production ones: queued SMS go out afterwards."""

    def __init__(self, capture):
        self.client = APIClient()
        self.capture = capture

    def post(self, path: str, data: dict, *, ip: str = IP):
        with self.capture(execute=True):
            return self.client.post(path, data, format="json", REMOTE_ADDR=ip)


@pytest.fixture
def handset(settings, tmp_path, monkeypatch) -> Handset:
    return Handset.install(settings, tmp_path, monkeypatch)


@pytest.fixture
def api(django_capture_on_commit_callbacks) -> Api:
    return Api(django_capture_on_commit_callbacks)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def answer(response) -> tuple:
    """Everything a client can observe, except the Date header."""
    headers = {k: v for k, v in response.items() if k.lower() != "date"}
    return response.status_code, response.content, headers


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_register_then_activate_gives_an_active_account_with_the_chosen_password(
    api, handset, clock
):
    registered = api.post(REGISTER, {"phone": "0712 345 678"})
    code = handset.code(PHONE)
    activated = api.post(ACTIVATE, {"phone": "0712 345 678", "code": code, "password": PASSWORD})

    assert (registered.status_code, registered.json()) == (202, CODE_SENT)
    assert (activated.status_code, activated.json()) == (200, {"status": "active"})
    user = User.objects.get(phone=PHONE)
    assert user.is_active and user.check_password(PASSWORD)
    again = api.post(ACTIVATE, {"phone": PHONE, "code": code, "password": PASSWORD})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_code")


def test_answers_are_identical_for_unknown_inactive_and_active_phones(api, handset, clock):
    unknown, inactive, active, never = (f"+2547123456{n:02d}" for n in range(4))
    activation_start(phone=inactive, ip=None)
    User.objects.create_user(active, PASSWORD, is_active=True)
    clock.shift(timedelta(hours=1))

    phones = {unknown: "192.0.2.1", inactive: "192.0.2.2", active: "192.0.2.3"}
    for path in (REGISTER, RESEND):
        first = [answer(api.post(path, {"phone": p}, ip=ip)) for p, ip in phones.items()]
        again = [answer(api.post(path, {"phone": p}, ip=ip)) for p, ip in phones.items()]
        clock.shift(timedelta(minutes=2))

        assert first[0][0] == 202 and first[0][1] == first[1][1] == first[2][1]
        assert first[0] == first[1] == first[2]
        assert again[0][0] == 429 and again[0][2]["Retry-After"] == "60"
        assert again[0] == again[1] == again[2]

    assert answer(api.post(RESEND, {"phone": never})) == first[0]
    texts = [handset.texts(p) for p in (unknown, inactive, active, never)]
    assert [len(t) for t in texts] == [2, 2, 2, 1]
    assert all(t.startswith("Malipo code: ") for t in texts[0] + texts[1] + texts[3])
    assert all(t.startswith("Someone asked to register") for t in texts[2])


def test_wrong_codes_answer_identically_for_new_inactive_and_active_phones(api, handset, clock):
    new, inactive, active = (f"+2547123456{n:02d}" for n in range(3))
    activation_start(phone=inactive, ip=None)
    User.objects.create_user(active, PASSWORD, is_active=True)
    clock.shift(timedelta(hours=1))
    ips = {new: "192.0.2.1", inactive: "192.0.2.2", active: "192.0.2.3"}
    for phone, ip in ips.items():
        api.post(REGISTER, {"phone": phone}, ip=ip)
    guesses = {new: wrong(handset.code(new)), inactive: wrong(handset.code(inactive))}

    answers = {
        phone: [
            answer(
                api.post(
                    ACTIVATE,
                    {"phone": phone, "code": guesses.get(phone, "000000"), "password": PASSWORD},
                    ip=ip,
                )
            )
            for _ in range(6)
        ]
        for phone, ip in ips.items()
    }

    assert answers[new] == answers[inactive] == answers[active]
    assert [json.loads(a[1])["code"] for a in answers[new]] == (
        ["invalid_code"] * 4 + ["too_many_attempts"] * 2
    )


def test_old_code_stops_working_after_a_resend(api, handset, clock, monkeypatch):
    drawn = iter(["111111", "222222"])
    monkeypatch.setattr(activation, "code_generate", lambda: next(drawn))
    api.post(REGISTER, {"phone": PHONE})
    clock.shift(timedelta(minutes=2))
    api.post(RESEND, {"phone": PHONE})

    old = api.post(ACTIVATE, {"phone": PHONE, "code": "111111", "password": PASSWORD})
    new = api.post(ACTIVATE, {"phone": PHONE, "code": handset.code(PHONE), "password": PASSWORD})

    assert (old.status_code, old.json()["code"]) == (400, "invalid_code")
    assert handset.code(PHONE) == "222222"
    assert new.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": PHONE, "code": "123456", "password": "123"}, "password"),
        ({"phone": PHONE, "code": "12345", "password": PASSWORD}, "code"),
        ({"phone": PHONE, "code": "abcdef", "password": PASSWORD}, "code"),
        ({"phone": PHONE, "code": "123456"}, "password"),
        ({"phone": "12", "code": "123456", "password": PASSWORD}, "phone"),
    ],
)
def test_bad_activation_input_is_a_400_naming_the_field(api, body, field):
    response = api.post(ACTIVATE, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["extra"]["fields"]) == [field]


def _log_texts(records) -> list[str]:
    numeric = {"created", "msecs", "relativeCreated", "thread", "process", "lineno"}
    return [
        record.getMessage() + repr([v for k, v in vars(record).items() if k not in numeric])
        for record in records
    ]


def test_code_and_password_never_reach_database_logs_or_responses(api, handset, clock, caplog):
    caplog.set_level(logging.DEBUG)
    with CaptureQueriesContext(connection) as queries:
        responses = [api.post(REGISTER, {"phone": PHONE})]
        code = handset.code(PHONE)
        for attempt in (wrong(code), code):
            responses.append(
                api.post(ACTIVATE, {"phone": PHONE, "code": attempt, "password": PASSWORD})
            )

    assert [r.status_code for r in responses] == [202, 400, 200]
    assert AuditEvent.objects.filter(action="user_activate").exists()
    texts = [query["sql"] for query in queries.captured_queries]
    for model in (SmsCode, OutboundMessage, AuditEvent):
        texts += [repr(row) for row in model.objects.values()]
    texts += _log_texts(caplog.records)
    texts += [r.content.decode() + repr(list(r.items())) for r in responses]
    assert len(texts) > 20
    for secret in (code, PASSWORD):
        assert [text for text in texts if secret in text] == []


def test_schema_documents_every_error_code(api):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    def documented(path: str) -> str:
        responses = schema["paths"][path]["post"]["responses"]
        return " ".join(r.get("description", "") for r in responses.values())

    for code in ("invalid", "rate_limited", "resend_cooldown", "send_quota", "locked"):
        assert f"`{code}`" in documented(REGISTER)
        assert f"`{code}`" in documented(RESEND)
    for code in ("invalid", "invalid_code", "code_expired", "too_many_attempts", "locked"):
        assert f"`{code}`" in documented(ACTIVATE)
    assert schema["paths"][ACTIVATE]["post"]["security"] == [{}]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
_client_ips = (f"10.0.{n // 250}.{n % 250 + 1}" for n in range(10**5))


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from([REGISTER, RESEND, ACTIVATE]),
    payload=st.fixed_dictionaries({}, optional={"phone": _JSON, "code": _JSON, "password": _JSON})
    | _JSON,
)
def test_any_json_body_gets_a_clear_answer_never_a_server_error(api, handset, path, payload):
    response = api.post(path, payload, ip=next(_client_ips))

    assert response.status_code in (202, 400, 429)
    assert {"code", "message", "extra"} <= set(response.json()) or response.status_code == 202


@pytest.mark.parametrize(
    "raw", [b"{", b'{"phone": NaN}', b'{"phone": Infinity}', b"\xff\xfe", b"[]"]
)
def test_malformed_json_is_a_400(raw):
    response = APIClient().post(REGISTER, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "invalid")
