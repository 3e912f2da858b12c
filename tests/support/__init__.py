"""Helpers shared by test suites (unit, integration, chaos, e2e): no tests here."""
