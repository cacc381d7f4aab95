"""The paybill side of the fake Daraja: C2B URL registration, customer payments (validation,
then confirmation) and Transaction Status. Mixed into `daraja.DarajaSimulator`, whose checks
(`_refusal`, `_invalid`, `error`) and settings (`shortcode`, `initiator`, `c2b_validation`) it
uses; its state is `.c2b_urls` and `.paybills` (TransID -> Paybill).
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from payments.simulators.base import Reply, Request

NAIROBI = ZoneInfo("Africa/Nairobi")
SUCCESS_DESC = "The service request is processed successfully."
ACCEPTED_DESC = "Accept the service request successfully."
SANDBOX_MSISDN = "254708374149"


def now_stamp() -> str:
    return datetime.now(tz=NAIROBI).strftime("%Y%m%d%H%M%S")


def random_id(prefix: str, digits: int = 10) -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(digits))


def receipt_new() -> str:
    """An M-Pesa-like receipt: ten upper-case letters and digits."""
    return "S" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(9))


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and " " not in value


@dataclass
class Paybill:
    trans_id: str
    bill_ref: str
    amount: Decimal
    msisdn: str
    status: str = "pending"  # pending | completed | rejected
    sent: list[str] = field(default_factory=list)  # "validation", "confirmation"


class PaybillMixin:
    # --- C2B ---------------------------------------------------------------------------------
    def c2b_register(self, request: Request) -> Reply:
        if refusal := self._refusal(request):
            return refusal
        checks = {
            "ShortCode": lambda v: str(v) == self.shortcode,
            "ResponseType": lambda v: v in ("Completed", "Cancelled"),
            "ConfirmationURL": is_url,
            "ValidationURL": is_url,
        }
        if invalid := self._invalid(request.json, checks):
            return invalid
        self.c2b_urls = {key: request.json[key] for key in checks if key != "ShortCode"}
        ids = {"OriginatorCoversationID": random_id("sim-", 12)}  # sic, as Daraja spells it
        return Reply(200, {**ids, "ResponseCode": "0", "ResponseDescription": "Success"})

    def c2b_simulate(self, request: Request) -> Reply:
        """Daraja's sandbox-only simulate API, driving `simulate_paybill`."""
        if refusal := self._refusal(request):
            return refusal
        if not self.c2b_urls:
            return self.error(400, "400.002.02", "Bad Request - Invalid ShortCode")
        body = request.json
        msisdn = str(body.get("Msisdn", SANDBOX_MSISDN))
        self.simulate_paybill(str(body.get("BillRefNumber", "")), body.get("Amount", 0), msisdn)
        ids = {"OriginatorCoversationID": random_id("sim-", 12)}
        return Reply(200, {**ids, "ResponseCode": "0", "ResponseDescription": ACCEPTED_DESC})

    def simulate_paybill(
        self, bill_ref: str, amount: Any, msisdn: str = SANDBOX_MSISDN, first_name: str = "JOHN"
    ) -> str:
        """A customer pays the paybill with `bill_ref` as account number; returns the TransID.
        Validation then confirmation are POSTed like any callback (after `callback_delay`)."""
        if not self.c2b_urls:
            raise RuntimeError("no C2B URLs registered (POST /mpesa/c2b/v1/registerurl)")
        paybill = Paybill(receipt_new(), bill_ref, Decimal(str(amount)), msisdn)
        with self._lock:
            self.paybills[paybill.trans_id] = paybill
        self.schedule(lambda: self._paybill_flow(paybill, first_name))
        return paybill.trans_id

    def c2b_body(self, paybill: Paybill, first_name: str = "JOHN") -> dict[str, str]:
        """The validation/confirmation JSON: all strings, the MSISDN as a SHA-256 hash."""
        return {
            "TransactionType": "Pay Bill",
            "TransID": paybill.trans_id,
            "TransTime": now_stamp(),
            "TransAmount": f"{paybill.amount:.2f}",
            "BusinessShortCode": self.shortcode,
            "BillRefNumber": paybill.bill_ref,
            "InvoiceNumber": "",
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": hashlib.sha256(paybill.msisdn.encode()).hexdigest(),
            "FirstName": first_name,
            "MiddleName": "",
            "LastName": "",
        }

    def _paybill_flow(self, paybill: Paybill, first_name: str) -> None:
        """Validation (if enabled) decides; no usable answer applies the ResponseType."""
        body = self.c2b_body(paybill, first_name)
        accepted = self.c2b_urls["ResponseType"] == "Completed"
        if self.c2b_validation:
            paybill.sent.append("validation")
            sent = self.send("POST", self.c2b_urls["ValidationURL"], body)
            if sent.status is not None and 200 <= sent.status < 300:
                reply = sent.reply if isinstance(sent.reply, dict) else {}
                accepted = str(reply.get("ResultCode")) == "0"
        paybill.status = "completed" if accepted else "rejected"
        if accepted:
            paybill.sent.append("confirmation")
            self.send(
                "POST", self.c2b_urls["ConfirmationURL"], {**body, "OrgAccountBalance": "25000.00"}
            )

    # --- Transaction Status ------------------------------------------------------------------
    def transaction_status(self, request: Request) -> Reply:
        if refusal := self._refusal(request):
            return refusal
        body = request.json
        checks = {
            "Initiator": lambda v: v == self.initiator,
            "SecurityCredential": lambda v: isinstance(v, str) and bool(v),
            "CommandID": lambda v: v == "TransactionStatusQuery",
            "PartyA": lambda v: str(v) == self.shortcode,
            "ResultURL": is_url,
            "QueueTimeOutURL": is_url,
        }
        if invalid := self._invalid(body, checks):
            return invalid
        if not (body.get("TransactionID") or body.get("OriginalConversationID")):
            return self.error(400, "400.002.02", "Bad Request - Invalid TransactionID")
        ids = {
            "OriginatorConversationID": random_id("sim-", 12),
            "ConversationID": random_id("AG_", 16),
        }
        receipt = str(body.get("TransactionID", ""))
        self.schedule(
            lambda: self.send("POST", body["ResultURL"], self.status_result(receipt, ids))
        )
        return Reply(200, {**ids, "ResponseCode": "0", "ResponseDescription": ACCEPTED_DESC})

    def status_result(self, receipt: str, ids: dict[str, str]) -> dict[str, Any]:
        """Completed for an STK receipt or a paybill TransID this fake issued, as documented
        (duplicate DebitPartyName, TransactionReason without Value); else R000002."""
        with self._lock:
            paid = {p.receipt: p.paid for p in self.pushes.values() if p.receipt}
            paid.update(
                {p.trans_id: p.amount for p in self.paybills.values() if p.status == "completed"}
            )
        result: dict[str, Any] = {
            **ids,
            "ResultType": 0,
            "TransactionID": random_id("SIM", 7),
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
        }
        if receipt not in paid:
            desc = "The OriginalTransactionID is invalid."
            return {"Result": {**result, "ResultCode": "R000002", "ResultDesc": desc}}
        params = [
            {"Key": "DebitPartyName", "Value": f"{SANDBOX_MSISDN} - John Doe"},
            {"Key": "DebitPartyName", "Value": f"{self.shortcode} - Simulated"},
            {"Key": "TransactionReason"},
            {"Key": "TransactionStatus", "Value": "Completed"},
            {"Key": "FinalisedTime", "Value": now_stamp()},
            {"Key": "Amount", "Value": f"{paid[receipt]:.2f}"},
            {"Key": "ReceiptNo", "Value": receipt},
        ]
        parameters = {"ResultParameter": params}
        return {
            "Result": {
                **result,
                "ResultCode": 0,
                "ResultDesc": SUCCESS_DESC,
                "ResultParameters": parameters,
            }
        }
