"""Text encoders and tokenizers (open_clip, HF BERT/RoBERTa) and the content-addressed embedding cache."""
