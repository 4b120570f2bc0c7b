"""One live document per content in a knowledge base, enforced by the database, so the
same file sent at the same moment through two doors becomes one document."""

from django.db import migrations, models

SET_ASIDE = ("Same content as document #{keep}, uploaded earlier: this copy was set aside "
             "when Citewise began to refuse duplicates. Delete it.")


def set_aside_duplicates(apps, schema_editor):
    """Copies that raced in before the constraint: the oldest stays, the others fail
    (searches skip failed documents), so the constraint can be created."""
    Document = apps.get_model("knowledge", "Document")
    live = (Document.objects.exclude(status="failed").exclude(sha256="")
            .order_by("knowledge_base_id", "sha256", "pk")
            .values_list("pk", "knowledge_base_id", "sha256"))
    first: dict[tuple[int, str], int] = {}
    for pk, kb_id, sha in live.iterator():
        keep = first.setdefault((kb_id, sha), pk)
        if keep != pk:
            Document.objects.filter(pk=pk).update(
                status="failed", stage="failed", lease_expires_at=None,
                error=SET_ASIDE.format(keep=keep))


class Migration(migrations.Migration):

    dependencies = [
        ("knowledge", "0007_document_failure_codes"),
    ]

    operations = [
        migrations.RunPython(set_aside_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                condition=models.Q(models.Q(("status", "failed"), _negated=True),
                                   models.Q(("sha256", ""), _negated=True)),
                fields=("knowledge_base", "sha256"), name="document_content_unique"),
        ),
    ]
