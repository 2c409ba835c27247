"""The chemotherapy plan: the protocol catalogue, dose arithmetic, writing cycles and their life."""
