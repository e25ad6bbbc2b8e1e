cwlVersion: v1.0
class: CommandLineTool
doc: "step 2 (shell variant): sh -c with a redirection"
requirements:
  ShellCommandRequirement: {}
  InlineJavascriptRequirement: {}
  DockerRequirement:
    dockerPull: alpine:3.19
inputs:
  infile: File
arguments:
  - {valueFrom: "cat $(inputs.infile.path) $(inputs.infile.path) > twice.txt && ls -l > listing.txt", shellQuote: false}
outputs:
  twice:
    type: File
    outputBinding: {glob: twice.txt}
  listing:
    type: File
    outputBinding: {glob: listing.txt}
