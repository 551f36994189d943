"""The demo seed's real genomics files, generated deterministically and cached
(:mod:`.demo_files`): reference and VCF, simulated reads and FASTQ, BAM, and a run folder."""
