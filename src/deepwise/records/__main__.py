"""``python -m deepwise.records``: print the JSON Schema of a run directory's manifest.json and metrics.json (the
documented copy is docs/run-directory.schema.json)."""

import json
import sys

from deepwise.records.schema import json_schema

json.dump(json_schema(), sys.stdout, indent=2)
sys.stdout.write("\n")
