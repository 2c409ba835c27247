import sys

from carnet_mixing_sim.server import main

sys.exit(main())
