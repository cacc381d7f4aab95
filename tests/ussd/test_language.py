"""The language chosen in menu 6 is remembered for the next sessions: on the phone's user, or,
for a phone with no user (an account contact, a phone not linked yet), on the phone itself,
and read with the caller on the first hop without a further statement."""

import pytest

from sms.contacts import recipient_language
from sms.models import SmsContact
from tests.ussd.support import CONTACT, STRANGER, WANJIRU

pytestmark = pytest.mark.django_db


def test_an_account_contact_keeps_the_language_it_chose_for_the_next_session(demo, at):
    assert at(CONTACT).walk("6", "2").startswith("CON Langue enregistree.\nMalipo Utilities")
    assert at(CONTACT).walk() == (
        "CON Malipo Utilities\n1 Solde\n2 Derniere facture\n3 Payer\n4 Releve du compteur\n"
        "5 Mini releve\n6 Langue\n7 Aide"
    )


def test_a_phone_not_linked_keeps_the_language_it_chose_for_the_next_session(demo, at):
    assert at(STRANGER).walk("6", "2").startswith("CON Langue enregistree.")
    home = at(STRANGER).walk()
    assert home.startswith("CON Malipo Utilities\nAucun compte n'est lie a ce telephone.\n1 Lier")


def test_the_phone_record_holds_the_choice_and_texts_to_the_phone_use_it(demo, at):
    at(CONTACT).walk("6", "3")
    at(CONTACT).walk("6", "2")
    assert SmsContact.objects.get(phone=CONTACT).language == "fr"
    assert recipient_language(CONTACT) == "fr"


def test_a_user_phone_still_keeps_the_choice_on_its_user(demo, at):
    at(WANJIRU).walk("6", "2")
    demo.wanjiru.owner.refresh_from_db()
    assert demo.wanjiru.owner.language == "fr"
    assert not SmsContact.objects.filter(phone=WANJIRU).exists()
    assert "1 Solde" in at(WANJIRU).walk()


@pytest.mark.parametrize(("phone", "statements"), [(CONTACT, 1), (STRANGER, 2)])
def test_the_remembered_language_costs_no_statement_of_its_own(
    demo, at, django_assert_num_queries, phone, statements
):
    """Choosing writes one statement; the next dial reads the language with the caller: one
    query for a phone with accounts, two for one without (its accounts, then its user or
    phone record), the code's operator being remembered."""
    session = at(phone)
    session.walk("6")
    with django_assert_num_queries(1):
        session.send("2")
    with django_assert_num_queries(statements):
        assert "Langue" in at(phone).walk()
