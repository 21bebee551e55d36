"""Model cards (issue 20): every version the RegistryPusher pushes gets
``<registry>/<version>/model_card/model_card.json`` and ``model_card.html``.

``sources.py`` reads what the push is given (TFMA's evaluation output, TFDV's statistics)
into plain dicts, ``content.py`` builds the card from them (plain Python), ``html.py``
renders it as one self-contained page (no external assets; an inline SVG chart of each
per-slice metric against its threshold). Google's ``model-card-toolkit`` pins TFX 1.5 and
an old protobuf: it cannot be installed beside TFX 1.16, so the card is written here."""
