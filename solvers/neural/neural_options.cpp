// Options of neural PI-FT (hjbft neural), PETSc style: read, then validated.
#include <cmath>
#include <cstdio>
#include <tuple>

#include "hjbft/core/errors.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

// Longer than a screen on purpose: one PetscOptionsBegin/End block, so that
// -help lists the options of hjbft neural together under one heading, with one
// registration per option (nothing to follow but the list itself); the string
// options go through char buffers, copied in before and out after the block.
PetscErrorCode ReadNeuralOptions(MPI_Comm comm, NeuralOptions* o) {
  char mode[32], ev[32], form[32], act[32], sched[32], init[32], ref[PETSC_MAX_PATH_LEN], load[PETSC_MAX_PATH_LEN] = "";
  std::snprintf(mode, sizeof mode, "%s", o->mode.c_str());
  std::snprintf(ev, sizeof ev, "%s", o->evaluation.c_str());
  std::snprintf(form, sizeof form, "%s", o->control_form.c_str());
  std::snprintf(act, sizeof act, "%s", nn::to_string(o->activation).c_str());
  std::snprintf(sched, sizeof sched, "%s", o->adam.schedule.c_str());
  std::snprintf(init, sizeof init, "%s", o->init.c_str());
  std::snprintf(ref, sizeof ref, "%s", o->reference.c_str());
  PetscInt paths = o->paths, seed = static_cast<PetscInt>(o->seed);
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Neural PI-FT (hjbft neural)", nullptr);
  PetscCall(PetscOptionsString("-neural_mode", "continuous (DESIGN section 3) | discrete (the DDPM chain of section 5)",
                               nullptr, mode, mode, sizeof mode, nullptr));
  PetscCall(PetscOptionsInt("-neural_outer", "Outer (policy) iterations", nullptr, o->outer, &o->outer, nullptr));
  PetscCall(PetscOptionsInt("-neural_paths", "Paths simulated per outer iteration (all ranks together)", nullptr, paths,
                            &paths, nullptr));
  PetscCall(PetscOptionsInt("-neural_steps", "Time steps of the simulated paths (continuous: Euler-Maruyama steps)",
                            nullptr, o->nsteps, &o->nsteps, nullptr));
  PetscBool kset = PETSC_FALSE;
  PetscCall(PetscOptionsInt("-ddpm_steps", "Discrete mode: K, the steps of the DDPM chain (instead of -neural_steps)",
                            nullptr, o->nsteps, &o->nsteps, &kset));
  o->ddpm_steps_set = kset;
  PetscCall(PetscOptionsString("-neural_evaluation", "Policy evaluation: mc (Monte Carlo cost to go) | td (temporal differences)",
                               nullptr, ev, ev, sizeof ev, nullptr));
  PetscCall(PetscOptionsInt("-neural_td_refresh", "td: Adam steps between refreshes of the target network", nullptr,
                            o->td_refresh, &o->td_refresh, nullptr));
  PetscCall(PetscOptionsString("-neural_control_form",
                               "free (u = N(x, t)) | terminal (u = gain [grad r + (1 - t/T) N]: exact at t = T; "
                               "continuous mode)",
                               nullptr, form, form, sizeof form, nullptr));
  for (auto [name, help, w] : {std::tuple{"-neural_value_hidden", "Hidden widths of the value network (comma-separated)",
                                          &o->value_hidden},
                               std::tuple{"-neural_control_hidden", "Hidden widths of the control network",
                                          &o->control_hidden}}) {
    PetscInt v[16] = {0}, n = 16;
    for (std::size_t i = 0; i < w->size() && i < 16; ++i) v[i] = (*w)[i];  // shown by -help
    PetscBool set;
    PetscCall(PetscOptionsIntArray(name, help, nullptr, v, &n, &set));
    if (set) w->assign(v, v + n);
  }
  PetscCall(PetscOptionsString("-neural_activation", "tanh | silu", nullptr, act, act, sizeof act, nullptr));
  PetscCall(PetscOptionsInt("-neural_time_freq", "Time embedding: sin/cos frequencies (besides t/T)", nullptr,
                            o->time_freq, &o->time_freq, nullptr));
  PetscCall(PetscOptionsInt("-neural_value_steps", "Adam steps of each value fit", nullptr, o->value_steps,
                            &o->value_steps, nullptr));
  PetscCall(PetscOptionsInt("-neural_control_steps", "Adam steps of each control fit", nullptr, o->control_steps,
                            &o->control_steps, nullptr));
  PetscCall(PetscOptionsInt("-neural_batch", "Minibatch size (all ranks together)", nullptr, o->batch, &o->batch, nullptr));
  PetscCall(PetscOptionsReal("-neural_lr", "Adam learning rate", nullptr, o->adam.lr, &o->adam.lr, nullptr));
  PetscCall(PetscOptionsString("-neural_lr_schedule", "constant | cosine (to -neural_lr_min_ratio x lr over each fit)",
                               nullptr, sched, sched, sizeof sched, nullptr));
  PetscCall(PetscOptionsReal("-neural_lr_min_ratio", "cosine schedule: final lr / lr", nullptr, o->adam.lr_min_ratio,
                             &o->adam.lr_min_ratio, nullptr));
  PetscCall(PetscOptionsInt("-seed", "Random seed (paths, minibatches, initial weights)", nullptr, seed, &seed, nullptr));
  PetscCall(PetscOptionsString("-init", "Initial law of the paths: gaussian (N(0, v(T) I)) | exact (p_T) | tilted",
                               nullptr, init, init, sizeof init, nullptr));
  PetscCall(PetscOptionsString("-neural_reference",
                               "Errors against: auto (exact when a closed form applies, else none) | none | exact | "
                               "grid:FILE.h5 (a result of hjbft solve or hjbft bellman on the output grid)",
                               nullptr, ref, ref, sizeof ref, nullptr));
  PetscCall(PetscOptionsString("-neural_load", "Start from the networks stored in this result file of hjbft neural",
                               nullptr, load, load, sizeof load, nullptr));
  PetscCall(PetscOptionsReal("-neural_diverge", "Stop when the control change exceeds this multiple of the first one",
                             nullptr, o->diverge, &o->diverge, nullptr));
  PetscCall(PetscOptionsReal("-error_mass", "Error norms on the region holding this much fine-tuned mass", nullptr,
                             o->mass, &o->mass, nullptr));
  PetscOptionsEnd();
  o->mode = mode;
  o->evaluation = ev;
  o->control_form = form;
  o->activation = nn::activation_from_string(act, "-neural_activation");
  o->adam.schedule = sched;
  o->init = init;
  o->reference = ref;
  o->load = load;
  o->paths = paths;
  o->seed = static_cast<std::uint64_t>(seed);
  PetscFunctionReturn(0);
}

void validate(const NeuralOptions& o, int size) {
  auto positive = [](long v, const char* opt) {
    if (v < 1) throw InputError(opt, "must be a positive integer, got " + std::to_string(v));
  };
  if (o.mode != "continuous" && o.mode != "discrete")
    throw InputError("-neural_mode", "unknown mode '" + o.mode + "' (allowed: continuous, discrete)");
  if (o.evaluation != "mc" && o.evaluation != "td")
    throw InputError("-neural_evaluation", "unknown method '" + o.evaluation + "' (allowed: mc, td)");
  if (o.ddpm_steps_set && o.mode != "discrete")
    throw InputError("-ddpm_steps", "sets the steps of the discrete chain: use it with -neural_mode discrete "
                                    "(continuous mode: -neural_steps)");
  if (o.control_form != "free" && o.control_form != "terminal")
    throw InputError("-neural_control_form", "unknown form '" + o.control_form + "' (allowed: free, terminal)");
  if (o.control_form == "terminal" && o.mode == "discrete")
    throw InputError("-neural_control_form", "terminal builds in u(T) = gain grad r, the continuous-time optimum; "
                                             "the chain's last control is not that (use free with -neural_mode discrete)");
  positive(o.outer, "-neural_outer");
  positive(o.nsteps, o.mode == "discrete" ? "-ddpm_steps" : "-neural_steps");
  positive(o.td_refresh, "-neural_td_refresh");
  positive(o.value_steps, "-neural_value_steps");
  positive(o.control_steps, "-neural_control_steps");
  if (o.paths < size)
    throw InputError("-neural_paths", "needs at least one path per MPI rank (" + std::to_string(size) + "), got " +
                                          std::to_string(o.paths));
  positive(o.batch, "-neural_batch");
  for (int w : o.value_hidden)
    if (w < 1) throw InputError("-neural_value_hidden", "widths must be positive, got " + std::to_string(w));
  for (int w : o.control_hidden)
    if (w < 1) throw InputError("-neural_control_hidden", "widths must be positive, got " + std::to_string(w));
  if (o.time_freq < 0 || o.time_freq > 32)
    throw InputError("-neural_time_freq", "must be in 0..32, got " + std::to_string(o.time_freq));
  if (!(o.adam.lr > 0) || !std::isfinite(o.adam.lr))
    throw InputError("-neural_lr", "must be a positive number, got " + std::to_string(o.adam.lr));
  if (o.adam.schedule != "constant" && o.adam.schedule != "cosine")
    throw InputError("-neural_lr_schedule", "unknown schedule '" + o.adam.schedule + "' (allowed: constant, cosine)");
  if (!(o.adam.lr_min_ratio >= 0 && o.adam.lr_min_ratio <= 1))
    throw InputError("-neural_lr_min_ratio", "must be in [0, 1]");
  if (!(o.diverge > 1)) throw InputError("-neural_diverge", "must be > 1");
  if (!(o.mass > 0 && o.mass < 1)) throw InputError("-error_mass", "must be in (0, 1)");
  init_law_from_string(o.init);
}

}  // namespace hjbft
