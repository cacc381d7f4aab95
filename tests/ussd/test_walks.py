"""Every menu path, walked by demo-like customers through a gateway that behaves like Africa's
Talking (cumulative text), asserting what the customer reads and what changed behind it."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import MeterReading, ReadingSource, ReadingStatus
from billing.selectors import account_balance
from billing.services.payments import payment_record
from billing.services.readings import reading_submit
from payments.models import IntentStatus, PaymentIntent
from payments.services.push import payment_intent_push
from sms.models import MessageKind, OutboundMessage
from tests.billing.factories import money, service_account_make
from tests.payments.support import mpesa_conf, sandbox_callback
from tests.ussd.support import CONTACT, FATOU, OTIENO, STRANGER, WANJIRU, meter_with_reading
from ussd.tasks import bill_sms_send, payment_start, reading_record

pytestmark = pytest.mark.django_db

MENU_EN = "1 Balance\n2 Last bill\n3 Pay\n4 Meter reading\n5 Mini statement\n6 Language\n7 Help"


def test_the_main_menu_greets_with_the_operator_in_the_customer_language(demo, at):
    assert at(WANJIRU).walk() == f"CON Malipo Utilities\n{MENU_EN}"
    assert "1 Salio\n2 Bili ya mwisho\n3 Lipa" in at(OTIENO).walk()
    assert "1 Solde\n2 Derniere facture\n3 Payer" in at(FATOU).walk()


def test_a_paid_up_customer_has_nothing_to_pay(demo, at):
    assert at(WANJIRU).walk("1") == "CON Acct 100000011\nNothing to pay.\n0 Back 00 Home"


def test_a_customer_with_two_accounts_chooses_one_for_the_balance(demo, at):
    session = at(OTIENO)
    assert session.walk("1") == (
        "CON Chagua akaunti:\n1 100000022 maji\n2 100000033 umeme\n0 Rudi 00 Mwanzo"
    )
    assert session.send("2") == "CON Akaunti 100000033\nUnadaiwa KES 2,900.00.\n0 Rudi 00 Mwanzo"
    assert session.send("0").startswith("CON Chagua akaunti:")
    assert "Unadaiwa KES 900.00." in session.send("1")


def test_a_customer_in_credit_is_told_so(demo, at):
    payment_record(
        account=demo.wanjiru,
        amount=money("250.00"),
        source="mpesa",
        reference="ADVANCE1",
        clearing="clearing:mpesa",
    )
    assert "In credit: KES 250.00." in at(WANJIRU).walk("1")


def test_the_last_bill_shows_period_consumption_amount_and_due_date(demo, at):
    assert at(WANJIRU).walk("2") == (
        "CON Bill 02/2026 acct 100000011\nUsed 12.4 m3\nAmount KES 1,392.00\nDue 15/03/2026\n"
        "1 Get it by SMS\n0 Back 00 Home"
    )


def test_a_customer_without_bills_is_told_there_is_none_yet(demo, at):
    second = service_account_make(operator=demo.operator, owner=demo.wanjiru.owner)
    session = at(WANJIRU)
    session.walk("2", "2")
    assert session.screen.startswith(f"No bill yet for acct {second.number}.")
    assert session.send("1").startswith("CON Invalid choice.\nNo bill yet")


def test_the_last_bill_is_sent_by_sms_once(
    demo, at, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bill_sms_send, "delay", lambda *args: bill_sms_send.apply(args=args))
    session = at(FATOU)
    session.walk("2")
    with django_capture_on_commit_callbacks(execute=True):
        assert session.send("1") == "CON La facture vous arrive par SMS.\n0 Retour 00 Accueil"
        session.send("1")  # pressed twice in the same session: one SMS

    message = OutboundMessage.objects.get()
    assert message.to == FATOU
    assert message.kind == MessageKind.BILL
    assert "compte 100000040" in message.body
    assert "paybill 123456" in message.body


def test_pay_the_whole_balance_then_the_operator_confirms_and_the_balance_shows_it(
    demo, at, sandbox, client, in_worker
):
    session = at(OTIENO)
    assert session.walk("3", "1") == (
        "CON Lipa akaunti 100000022\n1 Yote: KES 900.00\n2 Kiasi kingine\n0 Rudi 00 Mwanzo"
    )
    assert "Lipa KES 900.00 kwa akaunti 100000022 kutoka +254712000002?" in session.send("1")

    def confirm():
        answer = session.send("1")
        assert not PaymentIntent.objects.exists()  # the hop answers; a worker records it
        return answer

    assert in_worker(confirm) == "END Utapokea ombi la kuweka PIN yako. Risiti itakuja kwa SMS."
    intent = PaymentIntent.objects.get()
    assert (intent.idempotency_key, intent.channel) == (f"ussd:{session.session_id}", "ussd")
    assert intent.status == IntentStatus.CREATED  # nobody waited for the operator
    assert len(in_worker.enqueued) == 1  # the push, once the worker's transaction commits

    intent = payment_intent_push(intent_id=intent.pk)
    response = sandbox_callback(client, reference=intent.provider_reference, amount="900.00")
    assert response.status_code == 200

    assert session.walk("1", "1") == "CON Akaunti 100000022\nHakuna deni.\n0 Rudi 00 Mwanzo"
    assert account_balance(demo.otieno_water) == money("0")


def test_pay_another_amount_within_the_operator_limits(demo, at, sandbox, in_worker):
    session = at(FATOU)
    session.walk("3", "2")
    assert session.screen == "Montant a payer en KES:\n0 Retour 00 Accueil"
    assert session.send("2000000").startswith("CON Montant de KES 0.01 a KES 1,000,000.00.")
    assert session.send("0.005").startswith("CON Montant invalide.")
    assert session.send("500").startswith("CON Payer KES 500.00 au compte 100000040")
    assert in_worker(lambda: session.send("1")).startswith(
        "END Vous allez recevoir une demande de code PIN"
    )
    assert PaymentIntent.objects.get().amount_minor == 50_000


def test_amounts_outside_the_operator_rules_are_refused_with_the_rule(demo, at, settings):
    from tests.payments.support import mpesa_conf

    settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    session = at(OTIENO)
    session.walk("3", "1", "2")
    assert session.send("10.50") == (
        "CON Kiasi kamili tu.\nKiasi cha kulipa kwa KES:\n0 Rudi 00 Mwanzo"
    )
    assert session.send("0.50").startswith("CON Kiasi kati ya KES 1.00 na KES 250,000.00.")


def test_pay_is_offered_by_paybill_when_no_operator_serves_the_phone(demo, at, settings):
    settings.PAYMENT_PROVIDERS = {}
    assert at(WANJIRU).walk("3") == (
        "END Mobile payment is not available for this phone. Pay by paybill 123456, "
        "account 100000011."
    )


def test_a_retried_confirm_hop_asks_the_operator_once(demo, at, sandbox, in_worker):
    session = at(OTIENO)
    session.walk("3", "1", "1")

    def confirm_twice():
        session.send("1")
        session.post(session.text)  # the gateway sends the same hop again
        return session.body

    assert in_worker(confirm_twice).startswith("END Utapokea ombi")
    assert in_worker.handed == 1
    args = (session.session_id, demo.otieno_water.pk, OTIENO, 90_000, "KES", "sandbox", "", "sw")
    payment_start.apply(args=args)  # the task delivered twice
    assert PaymentIntent.objects.count() == 1


def test_a_second_payment_request_within_a_minute_is_refused_at_once(demo, at, settings, in_worker):
    settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    first, second = at(OTIENO), at(OTIENO)
    in_worker(lambda: first.walk("3", "1", "1", "1"))
    assert second.walk("3", "1", "1", "1") == (
        "END Ombi la malipo limetumwa sasa hivi. Subiri dakika moja."
    )
    assert PaymentIntent.objects.count() == 1


def test_a_refusal_found_by_the_worker_reaches_the_customer_by_sms(demo, at, settings, in_worker):
    settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    first, second = at(OTIENO), at(OTIENO)
    first.walk("3", "1", "1")
    second.walk("3", "1", "1")

    def both():  # both hops answer before either worker runs
        first.send("1")
        return second.send("1")

    assert in_worker(both).startswith("END Utapokea ombi")
    assert PaymentIntent.objects.count() == 1
    message = OutboundMessage.objects.get()
    assert (message.to, message.kind) == (OTIENO, MessageKind.NOTICE)
    assert message.body == "Ombi la malipo limetumwa sasa hivi. Subiri dakika moja."


def test_a_meter_reading_is_checked_priced_then_recorded_for_review(demo, at, in_worker):
    session = at(WANJIRU)
    assert session.walk("4") == (
        "CON Meter WM-DEMO-0001\nLast reading 1212.4 on 28/01/2026\nEnter the new reading:\n"
        "0 Back 00 Home"
    )
    assert session.send("1220.5") == (
        "CON Reading 1220.5 for meter WM-DEMO-0001?\n1 Confirm\n0 Back 00 Home"
    )

    def confirm():
        answer = session.send("1")
        assert not MeterReading.objects.filter(source=ReadingSource.CUSTOMER_USSD).exists()
        return answer

    assert in_worker(confirm) == (
        "END Reading 1220.5 received: 8.1 m3 used, about KES 939.60. We check it before "
        "billing. SMS follows."
    )
    reading = MeterReading.objects.get(source=ReadingSource.CUSTOMER_USSD)
    assert (reading.index, reading.consumption) == (Decimal("1220.5"), Decimal("8.1"))
    assert reading.status == ReadingStatus.PENDING_REVIEW
    assert reading.submitted_by == demo.wanjiru.owner
    message = OutboundMessage.objects.get()
    assert message.to == WANJIRU
    assert message.body == (
        f"Reading 1220.5 m3 for account {demo.wanjiru.number} received; it will be checked."
    )


def test_a_reading_confirmed_twice_or_delivered_twice_is_recorded_and_texted_once(
    demo, at, in_worker, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        reading_record, "delay", lambda *args: sent.append(args) or reading_record.apply(args)
    )
    session = at(WANJIRU)
    session.walk("4", "1220.5")

    def confirm_twice():
        session.send("1")
        session.post(session.text)  # the gateway sends the same hop again
        return session.body

    assert in_worker(confirm_twice).startswith("END Reading 1220.5 received")
    assert in_worker.handed == 1
    reading_record.apply(args=sent[0])  # the task delivered twice
    assert MeterReading.objects.filter(source=ReadingSource.CUSTOMER_USSD).count() == 1
    assert OutboundMessage.objects.count() == 1


def test_a_reading_below_the_last_one_asks_again_at_once(demo, at):
    session = at(WANJIRU)
    assert session.walk("4", "1100") == (
        "CON Below the last reading 1212.4. Check the digits.\nMeter WM-DEMO-0001\n"
        "Last reading 1212.4 on 28/01/2026\nEnter the new reading:\n0 Back 00 Home"
    )
    assert session.send("abc").startswith("CON Not a valid reading.\nMeter WM-DEMO-0001")
    assert session.send("99999999").startswith("CON Not a valid reading.")  # past the register
    assert not MeterReading.objects.filter(source=ReadingSource.CUSTOMER_USSD).exists()


def test_a_reading_the_worker_refuses_reaches_the_customer_by_sms(demo, at, in_worker):
    session = at(WANJIRU)
    session.walk("4", "1220.5")
    meter = demo.wanjiru.meters.get()

    def confirm():
        answer = session.send("1")
        reading_submit(  # a technician's, meanwhile
            meter=meter, index=Decimal(1230), read_at=timezone.now(), source="technician"
        )
        return answer

    assert in_worker(confirm).startswith("END Reading 1220.5 received")
    assert not MeterReading.objects.filter(source=ReadingSource.CUSTOMER_USSD).exists()
    message = OutboundMessage.objects.get()
    assert (message.to, message.body) == (WANJIRU, "A newer reading is already recorded.")


def test_an_account_with_two_meters_chooses_one(demo, at):
    meter_with_reading(demo.wanjiru, "40", serial="WM-DEMO-0009")
    session = at(WANJIRU)
    assert session.walk("4") == (
        "CON Choose a meter:\n1 WM-DEMO-0001\n2 WM-DEMO-0009\n0 Back 00 Home"
    )
    assert session.send("2").startswith("CON Meter WM-DEMO-0009\nLast reading 40 on 28/01/2026")
    assert session.send("45").startswith("CON Reading 45 for meter WM-DEMO-0009?")


def test_an_account_without_meter_says_so(demo, at):
    assert at(FATOU).walk("4") == (
        "CON Aucun compteur sur le compte 100000040.\n0 Retour 00 Accueil"
    )


def test_the_mini_statement_shows_the_last_three_movements(demo, at):
    screen = at(WANJIRU).walk("5")
    lines = screen.split("\n")
    assert lines[0] == "CON Acct 100000011, last moves:"
    assert [line.split(" ", 1)[1] for line in lines[1:4]] == [
        "Paid -1,392.00",
        "Bill +1,392.00",
        "Paid -1,392.00",
    ]
    assert lines[4:] == ["Balance KES 0.00", "0 Back 00 Home"]


def test_the_language_chosen_is_remembered_for_the_next_session(demo, at):
    session = at(WANJIRU)
    session.walk("6")
    assert session.screen == (
        "Choose your language:\n1 English\n2 Francais\n3 Kiswahili\n0 Back 00 Home"
    )
    assert session.send("3").startswith("CON Lugha imehifadhiwa.\nMalipo Utilities\n1 Salio")
    demo.wanjiru.owner.refresh_from_db()
    assert demo.wanjiru.owner.language == "sw"
    assert "1 Salio" in at(WANJIRU).walk()


def test_help_gives_the_help_phone_and_the_paybill_instructions(demo, at):
    assert at(WANJIRU).walk("7") == (
        "CON Help: call +254700000100.\nPay by paybill 123456, account = your account number."
        "\nMenu: dial *384*12#\n0 Back 00 Home"
    )


def test_a_contact_of_an_account_sees_it_like_the_owner(demo, at):
    assert at(CONTACT).walk("1") == "CON Acct 100000011\nNothing to pay.\n0 Back 00 Home"


def test_a_phone_without_account_is_offered_to_link_one(demo, at):
    assert at(STRANGER).walk() == (
        "CON Malipo Utilities\nNo account is linked to this phone.\n1 Link my account\n"
        "6 Language\n7 Help"
    )


def test_a_long_list_of_accounts_is_paginated(demo, at):
    added = [
        service_account_make(operator=demo.operator, owner=demo.wanjiru.owner) for _ in range(9)
    ]
    session = at(WANJIRU)
    first = session.walk("1")
    assert first.endswith("98 More\n0 Back 00 Home")
    second = session.send("98")
    assert second.startswith("CON ") and "98 More" not in second
    last_number = second.split("\n")[-2].split(" ")[0]
    assert last_number == "10"
    assert session.send("10").startswith(f"CON Acct {added[-1].number}\nNothing to pay.")


@pytest.mark.parametrize(
    "path",
    [(), ("1",), ("2",), ("3",), ("3", "2"), ("3", "2", "100"), ("4",), ("4", "1300"), ("5",),
     ("6",), ("7",)],
)  # fmt: skip
def test_every_screen_reprompts_on_nonsense_and_obeys_back_and_home(demo, at, sandbox, path):
    session = at(WANJIRU)
    screen = session.walk(*path)
    again = session.send("zz")
    assert again.startswith("CON ")
    assert again.split("\n", 1)[1] == screen[4:]  # the same screen under a short error
    assert session.send("00") == f"CON Malipo Utilities\n{MENU_EN}"
    if path:
        session.walk(*path)
        previous = at(WANJIRU).walk(*path[:-1])
        assert session.send("0") == previous
