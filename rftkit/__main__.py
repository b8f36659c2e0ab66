import sys

from rftkit.cli import main

sys.exit(main())
