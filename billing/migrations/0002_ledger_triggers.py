"""The ledger's guarantees in the database itself (PostgreSQL only; a no-op elsewhere).

1. A journal transaction must balance: a deferred constraint trigger, fired once per journal
   row, rejects at commit any journal with fewer than two entries or whose entries do not sum
   to zero in every currency.
2. Entries can only be added to a journal created in the same database transaction, so a
   committed journal (already checked) can never be unbalanced later. This is checked at the
   end of each INSERT statement on entries (a statement trigger over the inserted rows: the
   billing run inserts 100,000s of entries in a few statements, and a row trigger costs
   seconds there). The journal row's xmin is compared with the current transaction: as
   ledger_post inserts journals inside a savepoint, xmin is usually a subtransaction id, so
   instead of testing equality with pg_current_xact_id() the trigger widens xmin to an xid8
   and asks pg_xact_status; a row we can see whose writer is still in progress is ours.
3. Entries and journals are append-only: UPDATE and DELETE raise. TRUNCATE is not blocked
   (pytest-django empties tables that way between transactional tests).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_journal_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entry_count bigint;
    lowest_currency text;
    highest_currency text;
    total numeric;
    unbalanced text;
BEGIN
    SELECT count(*), min(currency), max(currency), sum(amount_minor)
      INTO entry_count, lowest_currency, highest_currency, total
      FROM billing_ledgerentry WHERE journal_id = NEW.id;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'journal transaction % has % entries; at least 2 are needed',
            NEW.id, entry_count USING ERRCODE = 'check_violation';
    END IF;
    IF lowest_currency = highest_currency AND total = 0 THEN
        RETURN NULL;  -- the usual case, settled with one index scan
    END IF;
    SELECT string_agg(currency || ' ' || currency_total, ', ') INTO unbalanced
      FROM (SELECT currency, sum(amount_minor) AS currency_total
              FROM billing_ledgerentry WHERE journal_id = NEW.id
             GROUP BY currency HAVING sum(amount_minor) <> 0) AS sums;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal transaction % does not balance: %', NEW.id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER billing_journal_balanced
    AFTER INSERT ON billing_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_journal_check_balanced();

-- Is the transaction that wrote a row (its xmin) still in progress? xmin is a 32-bit xid: it is
-- widened to an xid8 by its signed distance (modulo 2^32) from the current transaction id.
CREATE FUNCTION billing_xmin_in_progress(row_xmin xid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_xact_status((now_id - ((now_id % 4294967296 - row_xmin::text::bigint
                                      + 6442450944) % 4294967296 - 2147483648))::text::xid8)
           = 'in progress'
      FROM (SELECT pg_current_xact_id()::text::bigint AS now_id) AS current_transaction
$$;

CREATE FUNCTION billing_entries_check_journals_open() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    closed_journal bigint;
BEGIN
    -- A journal we cannot see (another transaction's, not yet committed) is not ours either.
    SELECT e.journal_id INTO closed_journal
      FROM (SELECT DISTINCT journal_id FROM new_entries) AS e
      LEFT JOIN billing_journaltransaction AS j ON j.id = e.journal_id
     WHERE j.id IS NULL OR NOT billing_xmin_in_progress(j.xmin)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal transaction % is closed (committed earlier): post a new one',
            closed_journal USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER billing_entry_journal_open
    AFTER INSERT ON billing_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION billing_entries_check_journals_open();

CREATE FUNCTION billing_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused; post a reversal instead',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER billing_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

CREATE TRIGGER billing_journaltransaction_append_only
    BEFORE UPDATE OR DELETE ON billing_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER billing_journaltransaction_append_only ON billing_journaltransaction;
DROP TRIGGER billing_ledgerentry_append_only ON billing_ledgerentry;
DROP FUNCTION billing_ledger_append_only();
DROP TRIGGER billing_entry_journal_open ON billing_ledgerentry;
DROP FUNCTION billing_entries_check_journals_open();
DROP FUNCTION billing_xmin_in_progress(xid);
DROP TRIGGER billing_journal_balanced ON billing_journaltransaction;
DROP FUNCTION billing_journal_check_balanced();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
