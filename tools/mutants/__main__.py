import sys

from tools.mutants.runner import main

sys.exit(main())
