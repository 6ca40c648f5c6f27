// The module's exports: every kernel family, plus the hooks the host and tests need.
export { heapBase, set_scalar } from './common';
export { maxabs_f32 } from './reduce';
export { gemm_nn, gemm_nt, gemm_tn, gemm_nn_scalar, gemm_nt_scalar, gemm_tn_scalar } from './gemm';
export { conv2d_forward, conv2d_backward_input, conv2d_backward_filter } from './conv2d';
export { conv2d_forward_fused } from './conv2d-fused';
export { depthwise_forward, depthwise_backward_input, depthwise_backward_filter, set_depthwise_variant } from './depthwise';
export { winograd_forward, winograd_backward_filter, winograd_filter_transform } from './winograd';
export { maxpool2d_forward, maxpool2d_backward, maxpool2x2_forward, maxpool2x2_backward, avgpool2d_forward, avgpool2d_backward } from './pool';
export { dense_forward, dense_backward, dense_pack, dense_pack_t, dense_forward_packed } from './dense';
export { bias_act, bias_grad, relu_forward, relu_backward, act_forward, act_backward } from './activation';
export { softmax_forward, softmax_backward, softmax_xent_sparse, softmax_xent_dense, count_correct_sparse, count_correct_dense } from './softmax';
export { sgd_update, momentum_update, adam_update, rmsprop_update, adagrad_update, sumsq_f32, clip_f32 } from './optimizer';
export { bce, binary_matches, mse, mae } from './losses';
export { add_f32, mul_f32, scale_f32, copy_rows_f32 } from './merge';
export { l1l2_penalty } from './regularizers';
export { global_avgpool_forward, global_avgpool_backward, global_maxpool_forward, global_maxpool_backward } from './global-pool';
export { zero_pad2d, crop2d } from './pad';
export {
  upsample_nearest_forward, upsample_nearest_backward, upsample_bilinear_forward, upsample_bilinear_backward,
} from './upsample';
export {
  batchnorm_moments,
  batchnorm_scale,
  batchnorm_apply,
  batchnorm_moving_update,
  batchnorm_backward,
  batchnorm_partial_moments,
  batchnorm_merge_moments,
  batchnorm_backward_sums,
  batchnorm_merge_sums,
  batchnorm_dx,
} from './batchnorm';
export { dropout_apply, spatial_dropout_apply } from './dropout';
export {
  rescale_f32,
  normalize_channels,
  affine_warp,
  contrast_forward,
  contrast_backward,
  erase_rect,
} from './augment';
export { sum_blocks_f32 } from './parallel';
