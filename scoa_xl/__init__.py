"""Strategic Commissioning Options Appraisal: the self-assessment workbook, read, checked and scored."""

__version__ = "0.1.0"
