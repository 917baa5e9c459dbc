# pexbot: headless WebRTC endpoint for Pexip Infinity, and its local Infinity emulator.
#   docker build -t pexbot .
#   docker run --rm -p 8080:8080 pexbot emulator --host 0.0.0.0 --port 8080
# The install step is the README's first command (pip install of this tree), so the test suite,
# which runs that same install, covers it.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 pexbot
WORKDIR /home/pexbot/src
COPY --chown=pexbot:pexbot pyproject.toml README.md ./
COPY --chown=pexbot:pexbot pexbot ./pexbot
COPY --chown=pexbot:pexbot media ./media
RUN pip install --no-cache-dir .

USER pexbot
WORKDIR /home/pexbot
ENTRYPOINT ["pexbot"]
CMD ["--help"]
