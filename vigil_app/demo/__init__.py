"""What only the demo and the tests use: the simulated company's inbox and localstripe, the
local payment provider of VIGIL_PAYMENTS=local. Production code never imports this package
(the `demo` extra installs localstripe)."""
