"""Case desk: families report problems (incidents), staff answer until atendida; weekly figures."""
