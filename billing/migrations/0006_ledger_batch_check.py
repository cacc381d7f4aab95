"""Journals posted in batch are checked once per statement, not once per journal at commit.

0002's deferred constraint trigger re-sums each journal's entries at commit: one query per
journal, most of the cost of posting a million penalties. `ledger_post_many` on PostgreSQL
now writes all its journals and their entries in one statement (a data-modifying WITH) with
the transaction-local setting `billing.ledger_batch` on; for such journals:

1. the deferred per-journal trigger is not queued (its WHEN clause reads the setting);
2. a statement trigger on the journal table checks every journal of the statement at its
   end, with one scan over the new rows: at least two entries, zero sum in every currency.
   The entries were written by the same statement, so a journal is refused unless it came
   with its entries, whatever set the setting.

Journals written any other way (the setting off: a hand-written script, a test) keep 0002's
check at commit. The other guards of 0002 are unchanged: entries only go to journals of the
current transaction, and journals and entries are append-only.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER billing_journal_balanced ON billing_journaltransaction;

CREATE CONSTRAINT TRIGGER billing_journal_balanced
    AFTER INSERT ON billing_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('billing.ledger_batch', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION billing_journal_check_balanced();

CREATE FUNCTION billing_journals_check_batch() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    unbalanced text;
BEGIN
    IF current_setting('billing.ledger_batch', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;
    -- One index probe per journal (LATERAL keeps the planner off a scan of all entries).
    FOR bad IN
        SELECT j.id, s.entry_count
          FROM new_journals AS j
         CROSS JOIN LATERAL (
               SELECT count(*) AS entry_count, min(e.currency) AS lowest,
                      max(e.currency) AS highest, sum(e.amount_minor) AS total
                 FROM billing_ledgerentry AS e WHERE e.journal_id = j.id) AS s
         WHERE s.entry_count < 2 OR s.lowest <> s.highest OR s.total <> 0
    LOOP
        IF bad.entry_count < 2 THEN
            RAISE EXCEPTION 'journal transaction % has % entries; at least 2 are needed',
                bad.id, bad.entry_count USING ERRCODE = 'check_violation';
        END IF;
        SELECT string_agg(currency || ' ' || currency_total, ', ') INTO unbalanced
          FROM (SELECT currency, sum(amount_minor) AS currency_total
                  FROM billing_ledgerentry WHERE journal_id = bad.id
                 GROUP BY currency HAVING sum(amount_minor) <> 0) AS sums;
        IF unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'journal transaction % does not balance: %', bad.id, unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER billing_journals_batch_balanced
    AFTER INSERT ON billing_journaltransaction
    REFERENCING NEW TABLE AS new_journals
    FOR EACH STATEMENT EXECUTE FUNCTION billing_journals_check_batch();
"""

BACKWARD = """
DROP TRIGGER billing_journals_batch_balanced ON billing_journaltransaction;
DROP FUNCTION billing_journals_check_batch();
DROP TRIGGER billing_journal_balanced ON billing_journaltransaction;
CREATE CONSTRAINT TRIGGER billing_journal_balanced
    AFTER INSERT ON billing_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_journal_check_balanced();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_dunning")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
