"""What we text customers, in English, French and Swahili.

Every text is GSM-7 (no ç, ê, â, î, ô, û: they would turn the message into UCS-2 and cut its
room to 70 characters) and fits one SMS with realistic fields; tests/sms/test_texts.py checks
each one and names the few that may not. Fields are plain strings formatted by the caller.
"""

from django.conf import settings

TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "en": "Malipo SMS: BAL, BILL, PAY <amount>, READ <index>, LANG EN/FR/SW, STOP. "
        "Add your account number if you have more than one.",
        "fr": "Malipo SMS : SOLDE, FACTURE, PAYER <montant>, RELEVE <index>, LANGUE EN/FR/SW, "
        "STOP. Ajoutez le numero de compte si vous en avez plusieurs.",
        "sw": "Malipo SMS: SALIO, BILI, LIPA <kiasi>, SOMA <namba>, LUGHA EN/FR/SW, ACHA. "
        "Ongeza namba ya akaunti kama una zaidi ya moja.",
    },
    "balance_due": {
        "en": "Account {number}: balance due {amount}. Send PAY <amount> to pay.",
        "fr": "Compte {number} : a payer {amount}. Envoyez PAYER <montant> pour payer.",
        "sw": "Akaunti {number}: deni ni {amount}. Tuma LIPA <kiasi> kulipa.",
    },
    "balance_credit": {
        "en": "Account {number}: nothing to pay. Credit {amount}.",
        "fr": "Compte {number} : rien à payer. Crédit {amount}.",
        "sw": "Akaunti {number}: huna deni. Salio lako ni {amount}.",
    },
    "no_bill": {
        "en": "Account {number}: no bill yet.",
        "fr": "Compte {number} : pas encore de facture.",
        "sw": "Akaunti {number}: bado hakuna bili.",
    },
    "pay_started": {
        "en": "Confirm the payment of {amount} for account {number} on your phone (PIN prompt).",
        "fr": "Confirmez le paiement de {amount} pour le compte {number} sur votre téléphone "
        "(code PIN).",
        "sw": "Thibitisha malipo ya {amount} kwa akaunti {number} kwenye simu yako (weka PIN).",
    },
    "pay_usage": {
        "en": "To pay, send PAY and the amount, e.g. PAY 500 (add the account number if you "
        "have more than one).",
        "fr": "Pour payer, envoyez PAYER et le montant, ex. PAYER 500 (ajoutez le numéro de "
        "compte si vous en avez plusieurs).",
        "sw": "Kulipa, tuma LIPA na kiasi, mfano LIPA 500 (ongeza namba ya akaunti kama una "
        "zaidi ya moja).",
    },
    "amount_invalid": {
        "en": "This amount cannot be paid. Send PAY and an amount, e.g. PAY 500.",
        "fr": "Ce montant n'est pas accepté. Envoyez PAYER et un montant, ex. PAYER 500.",
        "sw": "Kiasi hicho hakiwezi kulipwa. Tuma LIPA na kiasi, mfano LIPA 500.",
    },
    "read_received": {
        "en": "Reading {index} for account {number} received. It will be checked before your "
        "next bill.",
        "fr": "Relevé {index} du compte {number} enregistré. Il sera vérifié avant la prochaine "
        "facture.",
        "sw": "Usomaji {index} wa akaunti {number} umepokelewa. Utakaguliwa kabla ya bili ijayo.",
    },
    "read_usage": {
        "en": "To send a meter reading, send READ and the index, e.g. READ 12345.",
        "fr": "Pour envoyer un relevé, envoyez RELEVE et l'index, ex. RELEVE 12345.",
        "sw": "Kutuma usomaji wa mita, tuma SOMA na namba, mfano SOMA 12345.",
    },
    "no_meter": {
        "en": "Account {number} has no meter to read.",
        "fr": "Le compte {number} n'a pas de compteur à relever.",
        "sw": "Akaunti {number} haina mita ya kusoma.",
    },
    "lang_set": {
        "en": "Language set to English.",
        "fr": "Langue choisie : FR. Nos SMS seront en francais.",
        "sw": "Lugha imewekwa: Kiswahili.",
    },
    "lang_usage": {
        "en": "Send LANG EN, LANG FR or LANG SW.",
        "fr": "Envoyez LANGUE EN, LANGUE FR ou LANGUE SW.",
        "sw": "Tuma LUGHA EN, LUGHA FR au LUGHA SW.",
    },
    "stop_ack": {
        "en": "You will no longer get reminders or news. Bills, receipts and codes still come. "
        "Send START to get them again.",
        "fr": "Vous ne recevrez plus de rappels ni d'annonces. Factures, paiements et codes "
        "continuent. Envoyez START pour les recevoir.",
        "sw": "Hutapokea tena vikumbusho wala habari. Bili, risiti na nambari za siri "
        "zitaendelea. Tuma ANZA kuzipata tena.",
    },
    "start_ack": {
        "en": "Reminders and news are back on. Send STOP to stop them.",
        "fr": "Rappels et annonces réactivés. Envoyez STOP pour ne plus les recevoir.",
        "sw": "Vikumbusho na habari vimerudi. Tuma ACHA kuvisimamisha.",
    },
    "no_account": {
        "en": "No Malipo account is linked to this phone number.",
        "fr": "Aucun compte Malipo n'est lié à ce numéro de téléphone.",
        "sw": "Hakuna akaunti ya Malipo iliyounganishwa na namba hii ya simu.",
    },
    "pick_account": {
        "en": "You have several accounts: {numbers}. Add the account number, e.g. BAL {example}",
        "fr": "Vous avez plusieurs comptes : {numbers}. Ajoutez le numéro, ex. SOLDE {example}",
        "sw": "Una akaunti kadhaa: {numbers}. Ongeza namba ya akaunti, mfano SALIO {example}",
    },
    "account_unknown": {
        "en": "Account {number} is not linked to this phone number. Check the number.",
        "fr": "Le compte {number} n'est pas lié à ce numéro. Vérifiez le numéro.",
        "sw": "Akaunti {number} haijaunganishwa na namba hii. Angalia namba.",
    },
    "error": {
        "en": "Sorry, that did not work ({code}). Please try again later.",
        "fr": "Désolé, cela n'a pas marché ({code}). Réessayez plus tard.",
        "sw": "Samahani, imeshindikana ({code}). Jaribu tena baadaye.",
    },
    "push_too_soon": {
        "en": "A payment request was just sent. Wait a minute before the next one.",
        "fr": "Une demande de paiement vient de partir. Attendez une minute avant la suivante.",
        "sw": "Ombi la malipo limetumwa sasa hivi. Subiri dakika moja kabla ya jingine.",
    },
    "no_provider": {
        "en": "We cannot take mobile money from this number. Pay by paybill or at an agent.",
        "fr": "Nous ne pouvons pas prendre l'argent mobile de ce numéro. Payez chez un agent.",
        "sw": "Hatuwezi kupokea pesa ya simu kutoka namba hii. Lipa kwa paybill au kwa wakala.",
    },
    "account_closed": {
        "en": "Account {number} is closed.",
        "fr": "Le compte {number} est fermé.",
        "sw": "Akaunti {number} imefungwa.",
    },
    "reading_below": {
        "en": "This reading is below the last one. Check the index and send it again.",
        "fr": "Ce relevé est inférieur au dernier. Vérifiez l'index et renvoyez-le.",
        "sw": "Usomaji huu ni chini ya ule wa mwisho. Angalia namba na utume tena.",
    },
    "reading_newer": {
        "en": "This meter already has a newer reading.",
        "fr": "Ce compteur a déjà un relevé plus récent.",
        "sw": "Mita hii tayari ina usomaji mpya zaidi.",
    },
    "reading_accepted": {
        "en": "Reading {index} {unit} for account {number} is accepted. Thank you.",
        "fr": "Relevé {index} {unit} du compte {number} accepté. Merci.",
        "sw": "Usomaji {index} {unit} wa akaunti {number} umekubaliwa. Asante.",
    },
    "reading_held": {
        "en": "Reading {index} {unit} for account {number} received; it will be checked.",
        "fr": "Relevé {index} {unit} du compte {number} enregistré ; il sera vérifié.",
        "sw": "Usomaji {index} {unit} wa akaunti {number} umepokelewa na utakaguliwa.",
    },
    "reading_rejected": {
        "en": "Reading {index} {unit} for account {number} was not accepted. Please check it "
        "and send it again.",
        "fr": "Relevé {index} {unit} du compte {number} refusé. Vérifiez-le et renvoyez-le.",
        "sw": "Usomaji {index} {unit} wa akaunti {number} haukukubaliwa. Angalia na utume tena.",
    },
    "receipt": {
        "en": "Payment of {amount} received for account {number}. New balance {balance}. "
        "Ref {reference}",
        "fr": "Paiement de {amount} enregistré pour le compte {number}. Nouveau solde "
        "{balance}. Réf {reference}",
        "sw": "Malipo ya {amount} yamepokelewa kwa akaunti {number}. Salio jipya {balance}. "
        "Kumb {reference}",
    },
}

# Business error codes (ApplicationError.code) with a text of their own; others get "error".
ERROR_TEXTS = {
    "push_too_soon": "push_too_soon",
    "amount_out_of_range": "amount_invalid",
    "currency_not_accepted": "amount_invalid",
    "no_provider_for_phone": "no_provider",
    "provider_unavailable": "no_provider",
    "account_closed": "account_closed",
    "reading_below_previous": "reading_below",
    "reading_out_of_order": "reading_newer",
    "reading_duplicate": "reading_newer",
    "meter_removed": "no_meter",
}


def text_language(language: str) -> str:
    if language in ("en", "fr", "sw"):
        return language
    return settings.LANGUAGE_CODE if settings.LANGUAGE_CODE in ("en", "fr", "sw") else "en"


def text_render(key: str, language: str, **fields: str) -> str:
    """The text `key` in `language` (en, fr, sw; others get the default) with `fields`."""
    return TEXTS[key][text_language(language)].format(**fields)
