"""Every text the USSD menus show, in English, French and Swahili.

Kept as data beside the code, like the SMS texts (sms.notifications, billing.summaries): one
key, three languages, the same {placeholders} (a test checks it). Handsets render plain
ASCII best ("avoid special characters", Africa's Talking), so whatever is shown is folded to
ASCII at the last moment (`ascii_fold`): French keeps its accents here and loses them on air.
Errors raised by services carry a stable `code`; ERRORS maps codes to short texts.
"""

import unicodedata

from django.conf import settings

LANGUAGES = ("en", "fr", "sw")
LANGUAGE_NAMES = {"en": "English", "fr": "Francais", "sw": "Kiswahili"}
# Where a phone with no known language most likely reads French (calling codes).
FRENCH_CALLING_CODES = (
    "+221", "+222", "+223", "+224", "+225", "+226", "+227", "+228", "+229",
    "+235", "+236", "+237", "+240", "+241", "+242", "+243", "+250", "+253", "+257", "+261",
)  # fmt: skip

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "nav": "0 Back 00 Home",
        "more": "98 More",
        "menu_balance": "Balance",
        "menu_bill": "Last bill",
        "menu_pay": "Pay",
        "menu_reading": "Meter reading",
        "menu_statement": "Mini statement",
        "menu_language": "Language",
        "menu_help": "Help",
        "menu_link": "Link my account",
        "home": "{operator}",
        "home_unlinked": "{operator}\nNo account is linked to this phone.",
        "choose_account": "Choose an account:",
        "invalid_choice": "Invalid choice.",
        "balance_owe": "Acct {number}\nYou owe {amount}.",
        "balance_credit": "Acct {number}\nIn credit: {amount}.",
        "balance_zero": "Acct {number}\nNothing to pay.",
        "bill": "Bill {period} acct {number}\nUsed {quantity}\nAmount {amount}\nDue {due}",
        "bill_sms": "1 Get it by SMS",
        "bill_estimated": "est.",
        "bill_none": "No bill yet for acct {number}.",
        "bill_sms_sent": "The bill will reach you by SMS shortly.",
        "pay_menu": "Pay acct {number}\n1 All: {amount}\n2 Other amount",
        "pay_menu_nothing": "Acct {number}: nothing to pay.\n2 Pay in advance",
        "pay_amount": "Amount to pay in {currency}:",
        "pay_confirm": "Pay {amount} to acct {number} from {phone}?\n1 Confirm",
        "pay_sent": "You will receive a prompt to enter your PIN. The receipt comes by SMS.",
        "pay_unavailable": "Mobile payment is not available for this phone. Pay by paybill "
        "{paybill}, account {number}.",
        "amount_invalid": "Not a valid amount.",
        "amount_range": "Amount from {min} to {max}.",
        "amount_whole": "Whole amounts only.",
        "reading_enter": "Meter {serial}\nLast reading {index} on {date}\nEnter the new reading:",
        "reading_enter_first": "Meter {serial}\nEnter the reading:",
        "reading_none": "No meter on acct {number}.",
        "choose_meter": "Choose a meter:",
        "reading_confirm": "Reading {index} for meter {serial}?\n1 Confirm",
        "reading_done": "Reading {index} received: {quantity} used, about {amount}. We check "
        "it before billing. SMS follows.",
        "reading_done_plain": "Reading {index} received: {quantity} used. We check it before "
        "billing. SMS follows.",
        "reading_invalid": "Not a valid reading.",
        "reading_below": "Below the last reading {previous}. Check the digits.",
        "statement_head": "Acct {number}, last moves:",
        "statement_none": "No movements yet on acct {number}.",
        "statement_balance": "Balance {amount}",
        "kind_invoice": "Bill",
        "kind_payment": "Paid",
        "kind_penalty": "Penalty",
        "kind_fee": "Fee",
        "kind_credit_note": "Credit",
        "kind_credit_applied": "Credit",
        "kind_adjustment": "Adjust",
        "kind_reversal": "Reversal",
        "language_menu": "Choose your language:",
        "language_saved": "Language saved.",
        "help_call": "Help: call {phone}.",
        "help_paybill": "Pay by paybill {paybill}, account = your account number.",
        "help_dial": "Menu: dial {ussd}",
        "util_water": "water",
        "util_electricity": "power",
        "util_solar": "solar",
        "help_generic": "Help: call the office of your utility.",
        "link_number": "Enter your account number (on your letter):",
        "link_code": "Enter the code on your letter:",
        "link_done": "Acct {number} is now linked to this phone.",
        "account_number_invalid": "This account number is not valid. Check the digits.",
        "resume": "You left in the middle of: {flow}.\n1 Continue\n2 Start again",
        "fault": "Sorry, we cannot serve you right now. Please try again in a few minutes.",
        "timeout": "Sorry, this took too long. Please try again in a few minutes.",
    },
    "fr": {
        "nav": "0 Retour 00 Accueil",
        "more": "98 Suite",
        "menu_balance": "Solde",
        "menu_bill": "Dernière facture",
        "menu_pay": "Payer",
        "menu_reading": "Relevé du compteur",
        "menu_statement": "Mini relevé",
        "menu_language": "Langue",
        "menu_help": "Aide",
        "menu_link": "Lier mon compte",
        "home": "{operator}",
        "home_unlinked": "{operator}\nAucun compte n'est lié à ce téléphone.",
        "choose_account": "Choisissez un compte:",
        "invalid_choice": "Choix invalide.",
        "balance_owe": "Compte {number}\nVous devez {amount}.",
        "balance_credit": "Compte {number}\nCrédit: {amount}.",
        "balance_zero": "Compte {number}\nRien à payer.",
        "bill": "Facture {period} compte {number}\nConso {quantity}\nMontant {amount}\n"
        "Échéance {due}",
        "bill_sms": "1 Recevoir par SMS",
        "bill_estimated": "estimé",
        "bill_none": "Pas encore de facture pour le compte {number}.",
        "bill_sms_sent": "La facture vous arrive par SMS.",
        "pay_menu": "Payer compte {number}\n1 Tout: {amount}\n2 Autre montant",
        "pay_menu_nothing": "Compte {number}: rien à payer.\n2 Payer d'avance",
        "pay_amount": "Montant à payer en {currency}:",
        "pay_confirm": "Payer {amount} au compte {number} depuis {phone}?\n1 Confirmer",
        "pay_sent": "Vous allez recevoir une demande de code PIN. Le reçu arrive par SMS.",
        "pay_unavailable": "Paiement mobile indisponible pour ce téléphone. Payez par paybill "
        "{paybill}, compte {number}.",
        "amount_invalid": "Montant invalide.",
        "amount_range": "Montant de {min} à {max}.",
        "amount_whole": "Montants entiers seulement.",
        "reading_enter": "Compteur {serial}\nDernier relevé {index} le {date}\n"
        "Entrez le nouvel index:",
        "reading_enter_first": "Compteur {serial}\nEntrez l'index:",
        "reading_none": "Aucun compteur sur le compte {number}.",
        "choose_meter": "Choisissez un compteur:",
        "reading_confirm": "Index {index} pour le compteur {serial}?\n1 Confirmer",
        "reading_done": "Index {index} reçu: {quantity} consommés, environ {amount}. Vérifié "
        "avant facturation. SMS à suivre.",
        "reading_done_plain": "Index {index} reçu: {quantity} consommés. Vérifié avant "
        "facturation. SMS à suivre.",
        "reading_invalid": "Index invalide.",
        "reading_below": "Inférieur au dernier relevé {previous}. Vérifiez les chiffres.",
        "statement_head": "Compte {number}, derniers mouvements:",
        "statement_none": "Aucun mouvement sur le compte {number}.",
        "statement_balance": "Solde {amount}",
        "kind_invoice": "Facture",
        "kind_payment": "Payé",
        "kind_penalty": "Pénalité",
        "kind_fee": "Frais",
        "kind_credit_note": "Avoir",
        "kind_credit_applied": "Avoir",
        "kind_adjustment": "Ajust.",
        "kind_reversal": "Annul.",
        "language_menu": "Choisissez votre langue:",
        "language_saved": "Langue enregistrée.",
        "help_call": "Aide: appelez le {phone}.",
        "help_paybill": "Payez par paybill {paybill}, compte = votre numéro de compte.",
        "help_dial": "Menu: composez {ussd}",
        "util_water": "eau",
        "util_electricity": "électricité",
        "util_solar": "solaire",
        "help_generic": "Aide: appelez l'agence de votre fournisseur.",
        "link_number": "Entrez votre numéro de compte (sur votre lettre):",
        "link_code": "Entrez le code de votre lettre:",
        "link_done": "Le compte {number} est lié à ce téléphone.",
        "account_number_invalid": "Ce numéro de compte n'est pas valide. Vérifiez les chiffres.",
        "resume": "Vous étiez en cours de: {flow}.\n1 Continuer\n2 Recommencer",
        "fault": "Désolé, service indisponible pour le moment. Réessayez dans quelques minutes.",
        "timeout": "Désolé, c'est trop long. Réessayez dans quelques minutes.",
    },
    "sw": {
        "nav": "0 Rudi 00 Mwanzo",
        "more": "98 Zaidi",
        "menu_balance": "Salio",
        "menu_bill": "Bili ya mwisho",
        "menu_pay": "Lipa",
        "menu_reading": "Soma mita",
        "menu_statement": "Taarifa fupi",
        "menu_language": "Lugha",
        "menu_help": "Msaada",
        "menu_link": "Unganisha akaunti",
        "home": "{operator}",
        "home_unlinked": "{operator}\nHakuna akaunti iliyounganishwa na simu hii.",
        "choose_account": "Chagua akaunti:",
        "invalid_choice": "Chaguo si sahihi.",
        "balance_owe": "Akaunti {number}\nUnadaiwa {amount}.",
        "balance_credit": "Akaunti {number}\nSalio la ziada: {amount}.",
        "balance_zero": "Akaunti {number}\nHakuna deni.",
        "bill": "Bili {period} akaunti {number}\nMatumizi {quantity}\nKiasi {amount}\n"
        "Lipa kabla {due}",
        "bill_sms": "1 Tuma kwa SMS",
        "bill_estimated": "makadirio",
        "bill_none": "Bado hakuna bili ya akaunti {number}.",
        "bill_sms_sent": "Bili itakufikia kwa SMS punde.",
        "pay_menu": "Lipa akaunti {number}\n1 Yote: {amount}\n2 Kiasi kingine",
        "pay_menu_nothing": "Akaunti {number}: hakuna deni.\n2 Lipa mapema",
        "pay_amount": "Kiasi cha kulipa kwa {currency}:",
        "pay_confirm": "Lipa {amount} kwa akaunti {number} kutoka {phone}?\n1 Thibitisha",
        "pay_sent": "Utapokea ombi la kuweka PIN yako. Risiti itakuja kwa SMS.",
        "pay_unavailable": "Malipo ya simu hayapatikani kwa simu hii. Lipa kwa paybill "
        "{paybill}, akaunti {number}.",
        "amount_invalid": "Kiasi si sahihi.",
        "amount_range": "Kiasi kati ya {min} na {max}.",
        "amount_whole": "Kiasi kamili tu.",
        "reading_enter": "Mita {serial}\nSoma la mwisho {index} tarehe {date}\nWeka soma jipya:",
        "reading_enter_first": "Mita {serial}\nWeka soma:",
        "reading_none": "Hakuna mita kwenye akaunti {number}.",
        "choose_meter": "Chagua mita:",
        "reading_confirm": "Soma {index} la mita {serial}?\n1 Thibitisha",
        "reading_done": "Soma {index} limepokelewa: {quantity}, takriban {amount}. "
        "Tutalikagua kabla ya bili. SMS itafuata.",
        "reading_done_plain": "Soma {index} limepokelewa: {quantity}. Tutalikagua kabla ya "
        "bili. SMS itafuata.",
        "reading_invalid": "Soma si sahihi.",
        "reading_below": "Chini ya soma la mwisho {previous}. Kagua tarakimu.",
        "statement_head": "Akaunti {number}, miamala ya mwisho:",
        "statement_none": "Bado hakuna miamala kwenye akaunti {number}.",
        "statement_balance": "Salio {amount}",
        "kind_invoice": "Bili",
        "kind_payment": "Malipo",
        "kind_penalty": "Faini",
        "kind_fee": "Ada",
        "kind_credit_note": "Punguzo",
        "kind_credit_applied": "Punguzo",
        "kind_adjustment": "Marekebisho",
        "kind_reversal": "Kurejesha",
        "language_menu": "Chagua lugha yako:",
        "language_saved": "Lugha imehifadhiwa.",
        "help_call": "Msaada: piga {phone}.",
        "help_paybill": "Lipa kwa paybill {paybill}, akaunti = nambari ya akaunti yako.",
        "help_dial": "Menyu: piga {ussd}",
        "util_water": "maji",
        "util_electricity": "umeme",
        "util_solar": "sola",
        "help_generic": "Msaada: piga simu ofisi ya huduma yako.",
        "link_number": "Weka nambari ya akaunti (kwenye barua yako):",
        "link_code": "Weka nambari ya siri kwenye barua yako:",
        "link_done": "Akaunti {number} imeunganishwa na simu hii.",
        "account_number_invalid": "Nambari ya akaunti si sahihi. Kagua tarakimu.",
        "resume": "Uliacha katikati ya: {flow}.\n1 Endelea\n2 Anza upya",
        "fault": "Samahani, huduma haipatikani sasa. Jaribu tena baada ya dakika chache.",
        "timeout": "Samahani, imechukua muda mrefu. Jaribu tena baada ya dakika chache.",
    },
}

# Service errors (ApplicationError.code) as the customer reads them; others: "error".
ERRORS: dict[str, dict[str, str]] = {
    "en": {
        "error": "Sorry, that did not work. Please try again later.",
        "push_too_soon": "A payment request was just sent to this phone. Wait a minute.",
        "account_closed": "This account is closed.",
        "idempotency_key_reused": "A payment was already requested in this session.",
        "rate_limited": "Too many tries. Please try again later.",
        "reading_duplicate": "A reading was already sent for this moment.",
        "reading_out_of_order": "A newer reading is already recorded.",
        "meter_removed": "This meter was removed.",
        "invitation_invalid": "Wrong account number or code.",
        "invitation_expired": "This code has expired. Ask our office for a new letter.",
        "invitation_locked": "Too many wrong codes. Ask our office for a new letter.",
    },
    "fr": {
        "error": "Désolé, cela n'a pas marché. Réessayez plus tard.",
        "push_too_soon": "Une demande de paiement vient d'être envoyée. Attendez une minute.",
        "account_closed": "Ce compte est fermé.",
        "idempotency_key_reused": "Un paiement a déjà été demandé dans cette session.",
        "rate_limited": "Trop d'essais. Réessayez plus tard.",
        "reading_duplicate": "Un relevé existe déjà pour ce moment.",
        "reading_out_of_order": "Un relevé plus récent est déjà enregistré.",
        "meter_removed": "Ce compteur a été retiré.",
        "invitation_invalid": "Numéro de compte ou code erroné.",
        "invitation_expired": "Ce code a expiré. Demandez une nouvelle lettre à l'agence.",
        "invitation_locked": "Trop de codes erronés. Demandez une nouvelle lettre à l'agence.",
    },
    "sw": {
        "error": "Samahani, haikufanikiwa. Jaribu tena baadaye.",
        "push_too_soon": "Ombi la malipo limetumwa sasa hivi. Subiri dakika moja.",
        "account_closed": "Akaunti hii imefungwa.",
        "idempotency_key_reused": "Malipo yameshaombwa katika kikao hiki.",
        "rate_limited": "Majaribio mengi mno. Jaribu tena baadaye.",
        "reading_duplicate": "Soma la wakati huu limeshatumwa.",
        "reading_out_of_order": "Soma jipya zaidi limeshahifadhiwa.",
        "meter_removed": "Mita hii imeondolewa.",
        "invitation_invalid": "Nambari ya akaunti au ya siri si sahihi.",
        "invitation_expired": "Nambari hii imeisha muda. Omba barua mpya ofisini.",
        "invitation_locked": "Nambari nyingi za siri zisizo sahihi. Omba barua mpya ofisini.",
    },
}


def language_pick(language: str | None, phone: str = "") -> str:
    """`language` if we speak it; else French for francophone numbers, else the default."""
    if language in LANGUAGES:
        return language
    if phone.startswith(FRENCH_CALLING_CODES):
        return "fr"
    default = settings.LANGUAGE_CODE
    return default if default in LANGUAGES else "en"


def text(language: str, key: str, **values) -> str:
    template = TEXTS[language][key]
    return template.format(**values) if values else template


def error_text(language: str, code: str) -> str:
    errors = ERRORS[language]
    return errors.get(code) or errors["error"]


def ascii_fold(value: str) -> str:
    """Plain ASCII: accents dropped (é -> e), anything else without an ASCII form left out."""
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFKD", value)
    return decomposed.encode("ascii", "ignore").decode("ascii")
