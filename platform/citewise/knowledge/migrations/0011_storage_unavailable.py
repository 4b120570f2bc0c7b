# The storage_unavailable failure code: the object store of the originals was unreachable.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('knowledge', '0010_knowledge_base_index_version'),
    ]

    operations = [
        migrations.AlterField(
            model_name='document',
            name='error_code',
            field=models.CharField(blank=True, choices=[('unsupported_type', 'Unsupported file type'), ('too_large', 'File too large'), ('encrypted', 'Encrypted or password-protected'), ('corrupt', 'Damaged file'), ('archive_bomb', 'Archive expands too much'), ('empty', 'No text found'), ('ocr_unavailable', 'Scanned pages, OCR not installed'), ('parse_time_limit', 'Reading took too long'), ('parse_memory_limit', 'Reading needed too much memory'), ('parser_crashed', 'The reader stopped unexpectedly'), ('reader_fault', 'Could not read this format'), ('ingestion_failed', 'Could not be ingested'), ('internal', 'Internal error'), ('storage_full', "The server's disk was full"), ('storage_unavailable', 'The file storage was unreachable')], max_length=40),
        ),
    ]
