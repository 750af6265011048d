"""MDETR (Kamath et al., ICCV 2021): modulated detection for end-to-end multi-modal understanding."""
