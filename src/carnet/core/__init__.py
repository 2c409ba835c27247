"""Basics every part of the app uses: config, i18n, the clock, local ids, navigation. No feature, no Flet."""
