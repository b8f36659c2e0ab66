"""The local RFT job behind ``rftkit train``: config, data, the TRL run, validation and report."""
