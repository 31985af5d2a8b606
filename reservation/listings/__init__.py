"""Stock out to the channels: what each channel listing may sell (see service.py)."""
