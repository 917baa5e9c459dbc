# pexbot: headless WebRTC endpoint for Pexip Infinity, and its local Infinity emulator.
#   docker build -t pexbot .
#   docker run --rm -p 8080:8080 pexbot emulator --host 0.0.0.0 --port 8080
# No Docker engine runs in CI: the install line below is the README's first command, word for
# word, and tests/test_packaging.py pins that, so what CI installs is what the image installs.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 pexbot
WORKDIR /home/pexbot/src
COPY --chown=pexbot:pexbot pyproject.toml README.md ./
COPY --chown=pexbot:pexbot pexbot ./pexbot
COPY --chown=pexbot:pexbot media ./media
RUN python3 -m venv .venv && .venv/bin/pip install -q .
ENV PATH="/home/pexbot/src/.venv/bin:$PATH"

USER pexbot
WORKDIR /home/pexbot
ENTRYPOINT ["pexbot"]
CMD ["--help"]
