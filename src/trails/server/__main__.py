import sys

from trails.server.process import main

sys.exit(main())
