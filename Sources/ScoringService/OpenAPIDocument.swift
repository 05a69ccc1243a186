// The API description served at GET /openapi.yaml, generated from the repo-root openapi.yaml by
// scripts/embed-openapi.py; APIContractTests keeps the two identical, so the binary serves it
// even when installed alone.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: DFGaze Serve
  version: 0.1.0
  summary: Deepfake scoring of face video clips by spatial-temporal gaze inconsistency (DFGaze).
  description: |
    Send the face-cropped frames of one video (JPEG, in temporal order, at least 4). The service
    groups them into clips of 4 consecutive frames (plus one clip of the last 4 frames when the
    count is not a multiple of 4), runs the DFGaze networks and answers with the video's fake
    probability, each clip's and each head's probability, and each frame's gaze.
    With `faces=detect` the frames are whole frames: the service finds and crops each face the way
    the training data was cropped (dlib 19.24's HOG detector, FaceForensics++'s 1.3x square, JPEG
    quality 95). A video (`video/mp4`, `video/quicktime`, `video/webm`, `video/x-matroska`, raw or
    as a multipart part named `video`) is decoded by ffmpeg and scored as the authors' clips:
    windows of 32 frames, frames +0, +8, +16, +24 of each, at most `max_windows` windows spread
    evenly over the video. Long videos go to `POST /jobs`.
    Every response names the weights that answered; scores from the demo weights
    (`model.demo: true`) exercise the pipeline and mean nothing about the video.
  license:
    name: Proprietary
servers:
  - url: http://127.0.0.1:8080
security:
  - {}
  - bearer: []
paths:
  /score:
    post:
      summary: Score one video, given as frames (face crops or whole frames) or as a video file.
      operationId: score
      parameters:
        - $ref: '#/components/parameters/RequestID'
        - name: faces
          in: query
          required: false
          description: "`given` (default): the frames are face crops. `detect`: whole frames; the service finds and crops the faces. A video is always `detect`. A body field of the same name wins."
          schema:
            type: string
            enum: [given, detect]
        - name: threshold
          in: query
          required: false
          description: Fake probability at or above which the label is `fake` (default the server's, 0.5).
          schema:
            type: number
            minimum: 0
            maximum: 1
        - name: max_windows
          in: query
          required: false
          description: Most windows (clips) of a video scored, spread evenly over it. Default and upper bound the server's `--max-windows` (32); above it, 400.
          schema:
            type: integer
            minimum: 1
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              description: Every file part is a frame (any field name), in order; or one part named `video` holding a video file. An optional text field `id` is echoed back; `faces`, `threshold`, `max_windows` as the query parameters.
              properties:
                id:
                  type: string
                faces:
                  type: string
                  enum: [given, detect]
                threshold:
                  type: number
                  minimum: 0
                  maximum: 1
                max_windows:
                  type: integer
                  minimum: 1
                frame:
                  type: array
                  items:
                    type: string
                    contentMediaType: image/jpeg
                video:
                  type: string
                  contentMediaType: video/mp4
          application/json:
            schema:
              type: object
              required: [frames]
              properties:
                id:
                  type: string
                  maxLength: 256
                faces:
                  type: string
                  enum: [given, detect]
                threshold:
                  type: number
                  minimum: 0
                  maximum: 1
                frames:
                  type: array
                  minItems: 4
                  items:
                    type: string
                    contentEncoding: base64
                    description: A JPEG frame, base64-encoded.
          video/mp4:
            schema:
              type: string
              contentMediaType: video/mp4
              description: A video file as the raw body (up to `--max-video-bytes`, `--max-video-seconds`).
          video/quicktime:
            schema:
              type: string
              contentMediaType: video/quicktime
          video/webm:
            schema:
              type: string
              contentMediaType: video/webm
          video/x-matroska:
            schema:
              type: string
              contentMediaType: video/x-matroska
      responses:
        '200':
          description: The video's scores.
          headers:
            X-Request-ID:
              $ref: '#/components/headers/RequestID'
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ScoreResponse'
        '400':
          $ref: '#/components/responses/Error'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '408':
          $ref: '#/components/responses/Error'
        '411':
          $ref: '#/components/responses/Error'
        '413':
          $ref: '#/components/responses/Error'
        '415':
          $ref: '#/components/responses/Error'
        '422':
          $ref: '#/components/responses/Error'
        '431':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Overloaded'
  /jobs:
    post:
      summary: Submit the same body as POST /score as a durable job; poll GET /jobs/{id} or get a webhook.
      description: |
        The body, query and fields are those of POST /score, checked the same way before the job is
        stored (a bad upload is a 4xx now, not a failed job later). Optional `callback_url` (a query
        parameter, or a multipart or JSON field): an http:// or https:// URL whose host is literally one of
        --webhook-allow; when the job ends the service POSTs the job JSON there, signed with
        `X-DFGaze-Signature: sha256=<hex HMAC-SHA256 of the body>`, retrying with backoff.
      operationId: submitJob
      parameters:
        - $ref: '#/components/parameters/RequestID'
        - name: Idempotency-Key
          in: header
          required: false
          description: The same key with the same body (the same bytes) returns the same job; another body is 409.
          schema:
            type: string
            minLength: 1
            maxLength: 255
        - name: callback_url
          in: query
          required: false
          schema:
            type: string
            maxLength: 2048
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              description: As for POST /score; plus an optional text field `callback_url`.
              properties:
                id:
                  type: string
                callback_url:
                  type: string
                frame:
                  type: array
                  items:
                    type: string
                    contentMediaType: image/jpeg
          application/json:
            schema:
              type: object
              required: [frames]
              properties:
                id:
                  type: string
                  maxLength: 256
                callback_url:
                  type: string
                  maxLength: 2048
                frames:
                  type: array
                  minItems: 4
                  items:
                    type: string
                    contentEncoding: base64
      responses:
        '202':
          description: Stored and queued (or, with a repeated Idempotency-Key and body, the job made the first time).
          headers:
            Location:
              description: /jobs/{id}
              schema:
                type: string
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Job'
        '400':
          $ref: '#/components/responses/Error'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Error'
        '408':
          $ref: '#/components/responses/Error'
        '409':
          $ref: '#/components/responses/Error'
        '411':
          $ref: '#/components/responses/Error'
        '413':
          $ref: '#/components/responses/Error'
        '414':
          $ref: '#/components/responses/Error'
        '415':
          $ref: '#/components/responses/Error'
        '422':
          $ref: '#/components/responses/Error'
        '431':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Overloaded'
    get:
      summary: Recent jobs, newest first.
      operationId: listJobs
      parameters:
        - name: status
          in: query
          required: false
          schema:
            type: string
            enum: [queued, running, succeeded, failed, canceled]
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            minimum: 1
            maximum: 1000
            default: 100
      responses:
        '200':
          description: The jobs (without their uploads).
          content:
            application/json:
              schema:
                type: object
                required: [jobs]
                properties:
                  jobs:
                    type: array
                    items:
                      $ref: '#/components/schemas/Job'
        '400':
          $ref: '#/components/responses/Error'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Error'
        '414':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Overloaded'
  /jobs/{id}:
    parameters:
      - name: id
        in: path
        required: true
        description: The job's id (a lowercase UUID); anything else is 404 job_not_found.
        schema:
          type: string
    get:
      summary: A job's status, progress, and its result or error once finished.
      operationId: getJob
      responses:
        '200':
          description: The job.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Job'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Error'
        '414':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Overloaded'
    delete:
      summary: Cancel a queued or running job (a finished job is answered unchanged).
      operationId: cancelJob
      responses:
        '200':
          description: The job as it is now.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Job'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Error'
        '414':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Overloaded'
  /healthz:
    get:
      summary: Liveness. 200 while the process serves HTTP.
      operationId: healthz
      security: [{}]
      responses:
        '200':
          $ref: '#/components/responses/Health'
  /readyz:
    get:
      summary: Readiness. 200 when the weights are loaded and verified and the server is not draining.
      operationId: readyz
      security: [{}]
      responses:
        '200':
          $ref: '#/components/responses/Health'
        '503':
          $ref: '#/components/responses/Health'
  /v2/health/live:
    get:
      summary: Liveness (Open Inference Protocol alias of /healthz).
      operationId: oipLive
      security: [{}]
      responses:
        '200':
          $ref: '#/components/responses/Health'
  /v2/health/ready:
    get:
      summary: Readiness (Open Inference Protocol alias of /readyz).
      operationId: oipReady
      security: [{}]
      responses:
        '200':
          $ref: '#/components/responses/Health'
        '503':
          $ref: '#/components/responses/Health'
  /v1/model:
    get:
      summary: "What is loaded: networks, parameter counts, weights provenance and hashes, input spec, limits."
      operationId: model
      responses:
        '200':
          description: The loaded model.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ModelInfo'
        '401':
          $ref: '#/components/responses/Unauthorized'
  /metrics:
    get:
      summary: Prometheus metrics (text exposition format).
      operationId: metrics
      security: [{}]
      responses:
        '200':
          description: Metrics.
          content:
            text/plain:
              schema:
                type: string
        '401':
          $ref: '#/components/responses/Unauthorized'
  /openapi.yaml:
    get:
      summary: This document.
      operationId: openapi
      security: [{}]
      responses:
        '200':
          description: The OpenAPI document.
          content:
            application/yaml:
              schema:
                type: string
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      description: Required on /score and /v1/model when the server runs with --api-keys-file.
  parameters:
    RequestID:
      name: X-Request-ID
      in: header
      required: false
      description: Echoed back; generated when absent or invalid (printable ASCII, at most 128 characters).
      schema:
        type: string
        maxLength: 128
  headers:
    RequestID:
      description: The request's id.
      schema:
        type: string
  responses:
    Error:
      description: The request was refused; `error.code` is stable.
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
    Unauthorized:
      description: Missing or wrong API key.
      headers:
        WWW-Authenticate:
          schema:
            type: string
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
    Overloaded:
      description: The inference queue is full (or the server is draining); retry after the given seconds.
      headers:
        Retry-After:
          schema:
            type: integer
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
    Health:
      description: Health status.
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Health'
  schemas:
    Error:
      type: object
      description: The one envelope of every error, also those of the HTTP layer (400, 408, 411, 413, 414, 431, 505, ...).
      required: [error, request_id]
      properties:
        error:
          type: object
          required: [code, message]
          properties:
            code:
              type: string
              description: |
                Stable; the README lists each under its status: bad_request, bad_json, bad_multipart,
                unauthorized, not_found, method_not_allowed, request_timeout, length_required,
                body_too_large, uri_too_long, unsupported_media_type, expectation_failed,
                too_few_frames, too_many_frames, not_a_jpeg, image_too_large, no_face,
                video_too_short, unsupported_video, corrupt_video, video_too_long, video_timeout,
                headers_too_large, internal_error, not_implemented, overloaded, draining, not_ready,
                service_unavailable, cancelled, http_version_not_supported, job_not_found,
                idempotency_conflict, jobs_queue_full, bad_callback_url, bad_idempotency_key.
            message:
              type: string
            frame:
              type: integer
              description: The 0-based index of the offending frame, when one frame is at fault.
            frames:
              type: array
              items:
                type: integer
              description: "The frames concerned, when several are (`no_face`, whole frames: those without a face; video: the sampled frames without one)."
        request_id:
          type: string
    Health:
      type: object
      required: [status]
      properties:
        status:
          type: string
          enum: [ok, ready, not_ready, draining]
        weights:
          type: string
    ScoreResponse:
      type: object
      required: [request_id, fake_probability, label, threshold, clips, skipped_clips, frames, input, model, timings]
      properties:
        request_id:
          type: string
        id:
          type: string
          description: The client's `id`, when it sent one.
        fake_probability:
          type: number
          minimum: 0
          maximum: 1
          description: The mean of the clips' fake probabilities.
        label:
          type: string
          enum: [fake, real]
        threshold:
          type: number
        clips:
          type: array
          items:
            $ref: '#/components/schemas/Clip'
        skipped_clips:
          type: array
          description: "Clips not scored (a video's windows, or whole-frame clips, without a face). Empty for face crops."
          items:
            type: object
            required: [frames, reason]
            properties:
              frames:
                type: array
                items:
                  type: integer
              reason:
                type: string
                enum: [no_face]
        frames:
          type: array
          description: Each frame of a scored clip once, by increasing index.
          items:
            $ref: '#/components/schemas/Frame'
        input:
          type: object
          required: [kind, frames_decoded]
          description: "What was read: `{kind: frames, frames_decoded}`, or for a video also its size (as ffmpeg writes the frames, after rotation), rate and duration."
          properties:
            kind:
              type: string
              enum: [frames, video]
            frames_decoded:
              type: integer
              description: Frames uploaded, or the video's frame count.
            width:
              type: integer
            height:
              type: integer
            fps:
              type: number
              description: The stream's average frame rate.
            duration_s:
              type: number
              description: The container's duration.
        model:
          $ref: '#/components/schemas/ModelIdentity'
        timings:
          type: object
          description: Wall time per stage, in seconds.
          properties:
            decode_s:
              type: number
            preprocess_s:
              type: number
            forward_s:
              type: number
            total_s:
              type: number
            queue_s:
              type: number
              description: Time waiting for an inference worker.
            networks_s:
              type: object
              description: Forward time per network (gam, tam, psta; aam only with the full graph).
              additionalProperties:
                type: number
            faces_s:
              type: number
              description: Face detection and cropping (faces=detect and videos).
            video_s:
              type: number
              description: Probing and decoding the video (ffprobe, ffmpeg).
    Clip:
      type: object
      required: [frames, fake_probability, head_fake_probabilities]
      properties:
        frames:
          type: array
          items:
            type: integer
          minItems: 4
          maxItems: 4
          description: Upload indices, or a video's frame indices (32k, 32k+8, 32k+16, 32k+24).
        fake_probability:
          type: number
        head_fake_probabilities:
          type: array
          items:
            type: number
          minItems: 3
          maxItems: 3
        start_s:
          type: number
          description: Time of the clip's first frame from the video's first frame (videos only).
        end_s:
          type: number
          description: Time of the clip's last frame (videos only).
        gaze_dispersion_deg:
          type: number
          description: "A description of the gaze estimate, not the classifier's reason for its score: the mean angle, in degrees, between each frame's gaze vector and the clip's mean direction (normalised sum). The paper finds real videos' gaze concentrated over a short time and fakes' dispersed. Absent when undefined."
        gaze_step_deg:
          type: number
          description: "A description of the gaze estimate, not the classifier's reason: the mean angle, in degrees, between consecutive frames' gaze vectors. Absent when undefined."
    Frame:
      type: object
      required: [index, yaw_deg, pitch_deg, gaze]
      properties:
        index:
          type: integer
          description: Upload index, or the video's frame index.
        time_s:
          type: number
          description: Presentation time from the video's first frame (videos only).
        yaw_deg:
          type: number
        pitch_deg:
          type: number
        gaze:
          type: array
          items:
            type: number
          minItems: 3
          maxItems: 3
        face:
          type: object
          description: The face found and cropped (faces=detect and videos).
          required: [box, crop, detected]
          properties:
            box:
              type: array
              description: "dlib's rectangle [left, top, right, bottom], inclusive, in frame pixels; it may reach past the frame."
              items:
                type: integer
              minItems: 4
              maxItems: 4
            crop:
              type: array
              description: "[x, y, size]: the square cut from the frame (FaceForensics++'s 1.3x box, clipped)."
              items:
                type: integer
              minItems: 3
              maxItems: 3
            detected:
              type: boolean
              description: False when the frame had no face of its own and borrowed the box of the nearest frame (of its window; whole frames, of the same size).
    ModelIdentity:
      type: object
      required: [name, weights, demo, sha256]
      properties:
        name:
          type: string
        weights:
          type: string
        demo:
          type: boolean
        sha256:
          type: object
          additionalProperties:
            type: string
    ModelInfo:
      type: object
      required: [model, networks, input, limits]
      properties:
        model:
          $ref: '#/components/schemas/ModelIdentity'
        networks:
          type: array
          items:
            type: object
            properties:
              name:
                type: string
              role:
                type: string
              parameters:
                type: integer
              runs:
                type: boolean
        manifest:
          type: object
          description: The weights manifest (provenance, files, hashes).
        input:
          type: object
        detector:
          type: object
          description: The face detector and crop rule (library, version, upsampling, crop_rule, ...).
        video:
          type: object
          description: How a video is read (media types, window rule).
        limits:
          type: object
          description: Limits in force, including max_video_bytes, max_video_seconds, max_windows.
    Job:
      type: object
      required: [id, status, created_at, started_at, finished_at, progress]
      properties:
        id:
          type: string
        status:
          type: string
          enum: [queued, running, succeeded, failed, canceled]
        created_at:
          type: string
          format: date-time
        started_at:
          type: [string, 'null']
          format: date-time
        finished_at:
          type: [string, 'null']
          format: date-time
        progress:
          type: object
          required: [clips_done, clips_total]
          properties:
            clips_done:
              type: integer
            clips_total:
              type: integer
        result:
          $ref: '#/components/schemas/ScoreResponse'
        error:
          $ref: '#/components/schemas/Error'
        webhook:
          type: object
          description: Present when the job has a callback_url.
          required: [state, attempts]
          properties:
            state:
              type: [string, 'null']
              enum: [pending, delivered, failed, null]
            attempts:
              type: array
              items:
                type: object
                required: [at, status]
                properties:
                  at:
                    type: string
                    format: date-time
                  status:
                    type: [integer, 'null']
                  error:
                    type: string

"""#
}
