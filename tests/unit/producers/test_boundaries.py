"""Architecture guard: business code on the producer side never imports AWS SDKs."""

from __future__ import annotations

import subprocess
import sys

PURE_MODULES = ["producers.visa", "producers.quicpay", "producers.outbox", "producers.stories"]


def test_adapters_outbox_and_stories_do_not_import_aws_sdks() -> None:
    """Importing them (in a fresh interpreter) loads neither boto3, botocore nor aiobotocore."""
    probe = (
        f"import sys, {', '.join(PURE_MODULES)}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'boto3', 'botocore', 'aiobotocore'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
