"""Migration operations shared by the apps' migrations."""

from django.db import migrations, models


def foreign_key_index_drop(
    *, app: str, model: str, field: str, to: str, related_name: str, index: str
) -> migrations.SeparateDatabaseAndState:
    """The field's own index goes (db_index=False) when another index leads with its column;
    the foreign-key constraint stays as it is, where AlterField would drop and re-add it,
    validating every row of the table again."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name=model,
                name=field,
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=models.PROTECT,
                    related_name=related_name,
                    to=to,
                ),
            )
        ],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{app}_{model}" ("{field}_id")',
            )
        ],
    )
