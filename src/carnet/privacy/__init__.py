"""The privacy notice a guardian accepts before any of the children's data is fetched."""
