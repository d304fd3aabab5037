"""What a participant, the aggregator and the key holder do with data, models and ciphertexts."""
