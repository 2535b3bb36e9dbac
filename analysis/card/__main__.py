"""``python -m analysis.card --model DIR [--text FILE] [--context N] [--sequences N]`` (``make card``)."""
import sys

from .report import main

sys.exit(main())
