# Leases on re-embeddings and the record of index removals owed (the reconciler), and the
# storage_full failure code.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('knowledge', '0008_document_content_unique'),
    ]

    operations = [
        migrations.CreateModel(
            name='IndexRemoval',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('index_key', models.CharField(max_length=100)),
                ('chunk_ids', models.JSONField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.AddField(
            model_name='knowledgebase',
            name='reembed_lease_expires_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='knowledgebase',
            name='reembed_task_id',
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AlterField(
            model_name='document',
            name='error_code',
            field=models.CharField(blank=True, choices=[('unsupported_type', 'Unsupported file type'), ('too_large', 'File too large'), ('encrypted', 'Encrypted or password-protected'), ('corrupt', 'Damaged file'), ('archive_bomb', 'Archive expands too much'), ('empty', 'No text found'), ('ocr_unavailable', 'Scanned pages, OCR not installed'), ('parse_time_limit', 'Reading took too long'), ('parse_memory_limit', 'Reading needed too much memory'), ('parser_crashed', 'The reader stopped unexpectedly'), ('reader_fault', 'Could not read this format'), ('ingestion_failed', 'Could not be ingested'), ('internal', 'Internal error'), ('storage_full', "The server's disk was full")], max_length=40),
        ),
    ]
