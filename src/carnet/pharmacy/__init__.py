"""The pharmacy counter: scans checked offline with the cached trust bundle, dispensing online."""
