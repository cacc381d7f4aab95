"""`manage.py ussd_simulate`: a terminal session speaking the Africa's Talking protocol, in
process or to a running server."""

import io

import pytest
from django.core.management import call_command

from tests.ussd.support import WANJIRU

pytestmark = pytest.mark.django_db


def test_the_simulator_walks_the_menus_in_process(demo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n0\n7\n"))
    call_command("ussd_simulate", "--phone", WANJIRU)
    out = capsys.readouterr().out
    assert "Dialling *384*12# from +254712000001" in out
    assert "Acct 100000011\nNothing to pay." in out
    assert "Help: call +254700000100." in out
    assert out.rstrip().endswith("(hung up)")


@pytest.mark.django_db(transaction=True)
def test_the_simulator_walks_the_menus_of_a_running_server(demo, live_server, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))
    url = live_server.url + "/ussd/africastalking/"
    call_command("ussd_simulate", "--phone", WANJIRU, "--url", url)
    assert "Bill 02/2026 acct 100000011\nUsed 12.4 m3" in capsys.readouterr().out
