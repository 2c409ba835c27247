import sys

from carnet_whatsapp_sim.cli import main

sys.exit(main())
