# The API and the workers: one image, the command picks the role (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libgomp1 curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY core ./core
COPY schema ./schema
COPY server ./server
COPY sql ./sql
# compiles the Cython core (Cython and numpy are build requirements in pyproject.toml)
RUN pip install . && python -c "import core._kernel"

RUN useradd --create-home fpe
USER fpe
ENV FPE_DATA_DIR=/home/fpe/data
EXPOSE 8000
CMD ["fpe", "serve", "--host", "0.0.0.0", "--port", "8000"]
