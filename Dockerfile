# The grader and everything it needs, for any machine with Docker or Podman (macOS, Windows, any
# Linux). README, "The sandbox on your system", gives the `docker run` and `podman run` lines that
# grade a folder with the sandbox working inside the container, and what each option is for.
FROM python:3.11-slim-bookworm

# Graphviz draws the computation graphs; bubblewrap is the grader's sandbox.
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/course
# torch first, from PyTorch's CPU index: the default index serves a CUDA build of several GB.
# requirements.txt pins the same version, which the CPU build (2.13.0+cpu) satisfies.
COPY requirements.txt ./
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install --no-cache-dir -r requirements.txt
COPY . ./

# Run by any uid (`--user "$(id -u):$(id -g)"`): nothing is written beside the code, HOME is /tmp.
ENV PYTHONPATH=/opt/course \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
# Never root by default: the grader starts bubblewrap as the user it runs as.
USER 1000:1000
ENTRYPOINT ["python", "-m", "grading"]
CMD ["--help"]
