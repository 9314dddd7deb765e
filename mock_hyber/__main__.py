import sys

from mock_hyber.cli import main

sys.exit(main())
