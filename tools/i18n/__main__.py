import sys

from tools.i18n.cli import main

sys.exit(main())
